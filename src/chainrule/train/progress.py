"""How the Trainer reports progress: silent, one plain line per epoch, or a ``rich``
progress bar with loss, samples per second and the time left."""
from __future__ import annotations

import math
import os
import time


def make_reporter(verbose: int, stream):
    """The reporter for a Trainer's ``verbose``: 0 silent, 1 a progress bar on a terminal
    (else plain lines), 2 one plain line per epoch."""
    if verbose == 0:
        return _Silent()
    if verbose == 1 and _is_terminal(stream):
        return _RichBar(stream)
    return _PlainLog(stream)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _format_number(value) -> str:
    if value is None:
        return "-"
    if value != 0 and math.isfinite(value) and not 1e-3 <= abs(value) < 1e5:
        return f"{value:.3e}"
    return f"{value:.4f}"


def _epoch_line(record: dict, epochs: int) -> str:
    width = len(str(epochs))
    parts = [f"epoch {record['epoch']:>{width}}/{epochs}"]
    for key, value in record.items():
        if key in ("epoch", "lr", "time", "samples_per_sec"):
            continue
        parts.append(f"{key} {_format_number(value)}")
    parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['time']:.2f}s")
    parts.append(f"{record['samples_per_sec']:,.0f} samples/s")
    return "  ".join(parts)


class _Silent:
    def start(self, trainer, epochs, steps_per_epoch, resumed_from): ...
    def epoch_begin(self, epoch, epochs): ...
    def step(self, step, loss, samples_per_sec): ...
    def epoch_end(self, record, epochs): ...
    def note(self, text): ...
    def close(self): ...


class _PlainLog(_Silent):
    """One line per epoch: for logs, pipes and notebooks' captured output."""

    def __init__(self, stream):
        self.stream = stream

    def start(self, trainer, epochs, steps_per_epoch, resumed_from):
        if resumed_from is not None:
            self.note(f"resumed from {os.fspath(resumed_from)!r} after epoch {trainer.epoch}")

    def epoch_end(self, record, epochs):
        self.note(_epoch_line(record, epochs))

    def note(self, text):
        print(text, file=self.stream, flush=True)


class _RichBar(_PlainLog):
    """A ``rich`` progress bar over the whole run (epoch, loss, samples/s, ETA), with
    each finished epoch's line printed above it."""

    _REFRESH_SECONDS = 0.1

    def start(self, trainer, epochs, steps_per_epoch, resumed_from):
        from rich.console import Console  # noqa: PLC0415 - only needed on a terminal
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=self.stream)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[speed]} samples/s"),
            TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
        )
        remaining = max(epochs - trainer.epoch, 0) * steps_per_epoch
        self.task = self.progress.add_task("training", total=remaining, loss="-", speed="-")
        self.done, self.last_refresh = 0, 0.0
        self.progress.start()
        if resumed_from is not None:
            self.note(f"resumed from {os.fspath(resumed_from)!r} after epoch {trainer.epoch}")

    def epoch_begin(self, epoch, epochs):
        self.progress.update(self.task, description=f"epoch {epoch}/{epochs}")

    def step(self, step, loss, samples_per_sec):
        self.done += 1
        now = time.perf_counter()
        if now - self.last_refresh >= self._REFRESH_SECONDS:
            self.last_refresh = now
            self.progress.update(self.task, completed=self.done, loss=f"{loss:.4f}",
                                 speed=f"{samples_per_sec:,.0f}")

    def epoch_end(self, record, epochs):
        self.progress.update(self.task, completed=self.done, loss=f"{record['train_loss']:.4f}",
                             speed=f"{record['samples_per_sec']:,.0f}")
        self.progress.refresh()  # redraw now: the line printed next repeats the last drawing
        self.note(_epoch_line(record, epochs))

    def note(self, text):
        if getattr(self, "progress", None) is not None:
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            super().note(text)

    def close(self):
        if getattr(self, "progress", None) is not None:
            self.progress.stop()
            self.progress = None
