"""The training loop: epochs, validation, history, early stopping, checkpoints, progress.

:class:`Trainer` composes the pieces of supervised learning (DESIGN.md, "How data
flows", step 4). Each epoch shuffles the training data, and for each mini-batch
``B`` it runs

    forward:   ŷ = f(x_B; θ),  L_B = (1/|B|) Σ_{i∈B} L(y_i, ŷ_i)
    backward:  g = ∇_θ L_B
    step:      θ ← optimizer(θ, g)

then evaluates the validation data (weights fixed, ``model.eval()``, no graph),
records a :class:`History`, lets the callbacks act (:class:`EarlyStopping`), steps
the learning-rate scheduler and writes a checkpoint.

Checkpoints (``Trainer(checkpoint_path=...)``) are one safetensors file written
atomically at the end of every ``checkpoint_every`` epochs. They hold everything that
determines the rest of the run: model parameters and buffers, optimizer state,
scheduler and callback state, the epoch and step counters, the history, and the state
of the random generators (the global one and the training loader's own). So a run
that is interrupted and resumed with ``fit(..., resume_from=path)`` ends with exactly
the same weights, bit for bit, as the same run left alone.

A non-finite loss or gradient norm stops training at once with a
:class:`DivergenceError` (:mod:`chainrule.train.divergence`); nothing is written after the
divergence, so the last good checkpoint is kept.

Example::

    import chainrule as cr
    from chainrule import data, nn, optim
    from chainrule.train import EarlyStopping, Trainer

    cr.manual_seed(0)
    model = nn.MLP([64, 128, 10])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                      metrics=("loss", "accuracy"),
                      callbacks=[EarlyStopping(patience=5)],
                      checkpoint_path="digits.safetensors")
    history = trainer.fit((X_train, y_train), val=(X_val, y_val), epochs=50, batch_size=64)
    trainer.evaluate((X_test, y_test))     # {"loss": ..., "accuracy": ...}
    history.to_frame()                     # one row per epoch (needs pandas)

The Keras habits are there too: ``fit(..., validation_split=0.2)`` holds out the last 20% of
the rows, ``trainer.predict(X_test)`` returns the model's outputs (evaluation mode, no graph,
in batches), ``trainer.save(path)`` / ``trainer.load(path)`` keep the model, optimizer,
scheduler and history; ``Trainer(..., clip_grad_norm=1.0)`` clips the gradients' global norm
after each backward pass.

Data-parallel training on MPI (``Trainer(..., distributed=True)``, and by default whenever
the script was started by ``mpiexec``/``srun`` with more than one rank) takes the same steps
as one process with the global batch; :mod:`chainrule.train.data_parallel` describes how.
"""
from __future__ import annotations

import math
import os
import sys
import time

from ..data import DataLoader
from ..engine import distributed as _dist
from ..engine.autograd import no_grad
from ..engine.ops import cat
from ..nn.utils import clip_grad_norm_
from .batches import EVALUATION_BATCH_SIZE, as_loader, hold_out, prediction_inputs, prediction_loader, split_batch
from .callbacks import Callback
from .checkpointing import read_checkpoint, restore_model_state, restore_run, write_checkpoint
from .data_parallel import DataParallel, check_bucket_cap_mb, restore_batchnorms, sync_batchnorms
from .divergence import DivergenceError, divergence_error, global_grad_norm
from .history import STEP_COLUMNS, History
from .metrics import make_metric
from .progress import make_reporter

__all__ = ["Trainer"]


# ---------------------------------------------------------------------- trainer

class Trainer:
    """Fit a model by mini-batch gradient descent, with validation, history and checkpoints.

    Args:
        model: a ``chainrule.nn.Module`` (``parameters()``, ``train()``/``eval()``,
            ``state_dict()``/``load_state_dict()``). It is called as
            ``model(*inputs)`` on each batch ``(*inputs, target)``.
        loss: ``loss(outputs, target)`` returning the mean loss of the batch as a
            scalar Tensor (``nn.CrossEntropyLoss()``, ``nn.MSELoss()``, a function).
        optimizer: a ``chainrule.optim`` optimizer over the model's parameters.
        metrics: names recorded for training and validation data besides the loss:
            ``"accuracy"`` (classification: arg-max of the logits, or logit > 0 for
            a single output; per position for sequence outputs (N, T, C) with targets
            (N, T)), ``"r2"``, ``"rmse"``, ``"mae"`` (regression), or
            functions ``fn(outputs, target) -> float`` (averaged over batches,
            weighted by batch size; recorded under ``fn.__name__``).
        scheduler: a ``chainrule.optim.lr_scheduler`` scheduler, stepped after every
            epoch (or every step with ``scheduler_interval="step"``).
            ``ReduceLROnPlateau`` is stepped with ``val_loss`` (``train_loss`` when
            there is no validation data).
        callbacks: :class:`Callback` objects, e.g. :class:`EarlyStopping`.
        checkpoint_path: write a checkpoint here (atomically) at the end of every
            ``checkpoint_every`` epochs and at the last epoch. None: no checkpoints.
        verbose: 0 silent; 1 (default) a ``rich`` progress bar (loss, samples/s,
            ETA) when stdout is a terminal, else one plain line per epoch; 2 always
            one plain line per epoch.
        distributed: data-parallel training over MPI ranks (see :mod:`chainrule.train.data_parallel`).
            None (default): on when the job was launched with more than one rank
            (``mpiexec -n 4 ...``); True: always (starts MPI, needs mpi4py); False: never.
            ``batch_size`` is then the batch of each rank.
        bucket_cap_mb: with ``distributed``, the MiB per gradient bucket, whose all-reduce overlaps
            backward (PyTorch DDP's argument; None, the default: 25, after a first bucket of 1).
        zero_redundancy: with ``distributed``, shard the optimizer step over the ranks (ZeRO
            stage 1: :mod:`chainrule.train.zero_redundancy`); not with ``clip_grad_norm``.
        sync_batchnorm: with ``distributed``, normalize BatchNorm layers with the
            statistics of the global batch (all ranks) instead of each rank's own rows.
        clip_grad_norm: after each backward pass and before the optimizer step, scale the
            gradients so that their global L2 norm is at most this value
            (:func:`chainrule.nn.utils.clip_grad_norm_`). None (default): no clipping. The
            ``grad_norm`` the History records is the norm before clipping. Checkpoints
            record it, and resuming needs the same value.
        compile: run each training step's forward, loss, ``zero_grad`` and backward as a
            plan traced once and replayed (:func:`chainrule.compile`); the same numbers as
            eager steps. The loss check, clipping and optimizer step stay as they are. Not
            with ``distributed``; a model or loss that reads tensor values in Python is
            refused at the first step (:class:`chainrule.train.compiler.CompileError`).

    Attributes: ``history`` (:class:`History`), ``epoch`` (epochs completed),
    ``global_step`` (optimizer steps taken), ``stop_training``.
    """

    def __init__(self, model, loss, optimizer, metrics=("loss",), scheduler=None, callbacks=(), *,
                 checkpoint_path=None, checkpoint_every: int = 1, zero_redundancy: bool = False,
                 scheduler_interval: str = "epoch", verbose: int = 1,
                 distributed: bool | None = None, sync_batchnorm: bool = False, clip_grad_norm=None,
                 compile: bool = False, bucket_cap_mb=None):  # noqa: A002 - PyTorch Lightning's and the issue's name
        if not callable(model) or not hasattr(model, "parameters"):
            raise TypeError(f"Trainer: model must be an nn.Module; got {type(model).__name__}")
        if not callable(loss):
            raise TypeError(f"Trainer: loss must be callable as loss(outputs, target); got {type(loss).__name__}")
        for method in ("step", "zero_grad"):
            if not hasattr(optimizer, method):
                raise TypeError(f"Trainer: optimizer must have .{method}(); got {type(optimizer).__name__}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step'; got {scheduler_interval!r}")
        if scheduler is not None and scheduler_interval == "step" and _steps_on_metric(scheduler):
            raise ValueError(
                f"Trainer: {type(scheduler).__name__} watches an epoch metric; use "
                f"scheduler_interval='epoch' with it"
            )
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"Trainer: checkpoint_every must be a positive int; got {checkpoint_every!r}")
        for position, callback in enumerate(callbacks):
            if not isinstance(callback, Callback):
                raise TypeError(f"Trainer: callbacks[{position}] is a {type(callback).__name__}, not a Callback")
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.metrics = [make_metric(spec) for spec in metrics if spec != "loss"]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"Trainer: metric names repeat: {names}")
        self.scheduler, self.scheduler_interval, self.callbacks = scheduler, scheduler_interval, list(callbacks)
        self.checkpoint_path = None if checkpoint_path is None else os.fspath(checkpoint_path)
        self.checkpoint_every = checkpoint_every
        self.verbose = _check_verbose(verbose)
        if distributed not in (None, True, False):
            raise ValueError(f"Trainer: distributed must be None (automatic), True or False; got {distributed!r}")
        if sync_batchnorm not in (True, False):
            raise ValueError(f"Trainer: sync_batchnorm must be True or False; got {sync_batchnorm!r}")
        check_bucket_cap_mb(bucket_cap_mb, "Trainer")
        if not isinstance(zero_redundancy, bool) or (zero_redundancy and clip_grad_norm is not None):
            raise ValueError(f"Trainer: zero_redundancy must be True or False, and False with clip_grad_norm; "
                             f"got {zero_redundancy!r} with clip_grad_norm={clip_grad_norm!r}")
        self.distributed = _dist.launched_world_size() > 1 if distributed is None else distributed
        if self.distributed:
            _dist.init()
        self.sync_batchnorm, self.clip_grad_norm = bool(sync_batchnorm), _check_clip(clip_grad_norm)
        self._parallel = DataParallel(bucket_cap_mb, zero_redundancy=zero_redundancy) if self.distributed else None
        self._compiled = _compiled_step(self, compile)
        self.history, self.epoch, self.global_step, self.stop_training = History(), 0, 0, False
        self.has_validation, self._train_loader, self._params = False, None, []
        self._last_finite, self._last_checkpoint = None, None  # (loss, epoch, step), (path, epoch)

    # ------------------------------------------------------------------ public

    @property
    def record_columns(self) -> list:
        """The History columns each epoch records in the current ``fit``."""
        names = ["loss"] + [m.name for m in self.metrics]
        columns = ["epoch"] + [f"train_{n}" for n in names]
        if self.has_validation:
            columns += [f"val_{n}" for n in names]
        return columns + ["grad_norm", "lr", "time", "samples_per_sec"]

    def fit(self, train, val=None, *, epochs: int = 1, batch_size: int | None = None,
            resume_from=None, verbose: int | None = None, validation_split=None) -> History:
        """Train until epoch ``epochs`` and return the :class:`History`.

        Each call starts a new run from the model's current weights (a fresh History,
        epoch 0), unless ``resume_from`` continues a checkpointed one.

        Args:
            train: a ``(X, y)`` pair of Tensors/arrays, a Dataset, a DataLoader, or a
                ``data.ParquetDataset`` (streamed row group by row group).
                Datasets and pairs are shuffled every epoch (global generator: seed
                the run with ``chainrule.manual_seed``).
            val: validation data of the same kinds (not shuffled), or None.
            epochs: the epoch to end at, counted from the start of the run: a run
                resumed from a checkpoint of epoch k trains epochs k+1 … ``epochs``.
            batch_size: samples per batch (default 32); not allowed with a DataLoader,
                which has its own.
            resume_from: a checkpoint path written by a Trainer on the same model,
                optimizer, scheduler and callbacks: continue that run exactly.
            verbose: overrides the Trainer's ``verbose`` for this call.
            validation_split: a fraction in (0, 1): hold out the LAST fraction of the rows of
                ``train`` (a pair or a Dataset) as validation data, before any shuffling, as
                Keras does; not together with ``val``.

        Raises :class:`DivergenceError` when the loss or the gradient stops being finite.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"Trainer.fit: epochs must be a positive int; got {epochs!r}")
        verbose = self.verbose if verbose is None else _check_verbose(verbose)
        if validation_split is not None and validation_split != 0:
            if val is not None:
                raise ValueError("Trainer.fit: pass either val= or validation_split=, not both")
            train, val = hold_out(train, validation_split)
        train_loader, val_loader = self._loaders(train, val, batch_size)
        if self._parallel is not None:
            verbose = verbose if _dist.is_main() else 0  # only rank 0 reports
        self._start_run(train_loader, val_loader, resume_from)
        if self.sync_batchnorm and self._parallel is not None:
            self._parallel.check_every_rank_has_rows(train_loader, "sync_batchnorm=True")
        reporter = make_reporter(verbose, sys.stdout)
        reporter.start(self, epochs, len(train_loader), resume_from)
        batchnorms = sync_batchnorms(self.model) if self.sync_batchnorm and self._parallel is not None else []
        try:
            self._run_epochs(epochs, train_loader, val_loader, reporter)
        finally:
            reporter.close()
            restore_batchnorms(batchnorms)
        self._end_run(reporter)
        return self.history

    def evaluate(self, data, batch_size: int | None = None) -> dict:
        """Loss and metrics on ``data`` with the current weights: ``{"loss": ..., name: ...}``.

        Runs in evaluation mode (``model.eval()``: dropout off, batch norm on its
        running statistics) without recording a graph; the model's mode is restored
        afterwards. ``data`` is a ``(X, y)`` pair, a Dataset or a DataLoader.
        """
        if batch_size is None and not isinstance(data, DataLoader):
            batch_size = EVALUATION_BATCH_SIZE
        loader = as_loader(data, batch_size, shuffle=False, argument="data")
        if self._parallel is not None:
            loader = self._parallel.shard_eval(loader)
        return self._evaluate(loader)

    def predict(self, data, batch_size: int | None = None):
        """The model's outputs on ``data``, batch by batch, joined along the first dimension.

        ``data`` is the inputs alone (a Tensor or an array ``X``), or anything ``fit`` and
        ``evaluate`` accept (a ``(X, y)`` pair, a Dataset, a DataLoader with ``shuffle=False``),
        whose targets are then left out. Runs as ``evaluate`` does: evaluation mode (restored
        afterwards), no graph, batches of 256 by default, rows in their stored order. A model
        that returns a tuple gives a tuple of joined outputs. In a distributed run every rank
        predicts all the rows.
        """
        loader = prediction_loader(data, batch_size)
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        outputs = []
        try:
            with no_grad():
                for batch in loader:
                    outputs.append(self.model(*prediction_inputs(batch)))
        finally:
            if was_training:
                self.model.train()
        if isinstance(outputs[0], tuple):
            return tuple(cat([out[i] for out in outputs]) for i in range(len(outputs[0])))
        return cat(outputs)

    def save(self, path) -> None:
        """Write the model, optimizer, scheduler and history (and everything else a resumed run
        needs: it is :meth:`save_checkpoint`) to ``path``, one safetensors file written
        atomically. Read it back with :meth:`load`, or continue the run with
        ``fit(..., resume_from=path)``."""
        self.save_checkpoint(path)

    def load(self, path) -> None:
        """Restore what :meth:`save` (or a checkpoint) wrote: the model's parameters and
        buffers, the optimizer's and the scheduler's state, the History and the epoch and step
        counters. The Trainer must be built on the same kind of model, optimizer and scheduler;
        its callbacks and the random generators are left alone (to continue a run exactly,
        use ``fit(..., resume_from=path)``)."""
        restore_model_state(self, read_checkpoint(path, "Trainer.load"), "Trainer.load")

    def save_checkpoint(self, path) -> None:
        """Write the whole training state to ``path`` (safetensors, atomically; see
        :mod:`chainrule.train.checkpointing`).

        In a distributed run rank 0 alone writes (all hold the same state); the others wait for it."""
        if self._parallel is not None:
            self._parallel.gather_optimizer_state(self.optimizer)  # ZeRO: every rank's blocks of the state
            if not _dist.is_main():
                _dist.barrier()
                return
        write_checkpoint(self, path, self._train_loader, self._last_finite)
        if self._parallel is not None:
            _dist.barrier()

    def load_checkpoint(self, path) -> None:
        """Restore the whole training state written by :meth:`save_checkpoint`."""
        state = read_checkpoint(path, "Trainer.load_checkpoint")
        self._last_finite = restore_run(self, state, self._train_loader)
        self._last_checkpoint = (os.fspath(path), self.epoch)

    # ------------------------------------------------------------------ one run

    def _loaders(self, train, val, batch_size):
        """The run's training and validation loaders (this rank's shards in a distributed run)."""
        train_loader = as_loader(train, batch_size, shuffle=True, argument="train")
        val_loader = None if val is None else as_loader(
            val, batch_size or train_loader.batch_size, shuffle=False, argument="val")
        if self._parallel is not None:
            train_loader = self._parallel.shard_train(train_loader)
            val_loader = None if val_loader is None else self._parallel.shard_eval(val_loader)
        return train_loader, val_loader

    def _start_run(self, train_loader, val_loader, resume_from) -> None:
        """A fresh run's state (epoch 0, an empty History), or the checkpoint's when resuming;
        in a distributed run every rank first takes rank 0's weights."""
        if self._parallel is not None:
            self._parallel.broadcast_model(self.model)
        self._train_loader = train_loader
        self.has_validation = val_loader is not None
        self.history, self.epoch, self.global_step = History(), 0, 0
        self.stop_training, self._last_finite, self._last_checkpoint = False, None, None
        self._params = list(self.model.parameters())
        for callback in self.callbacks:
            callback.on_train_begin(self)
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        if self._compiled is not None:
            self._compiled.reset()

    def _run_epochs(self, epochs, train_loader, val_loader, reporter) -> None:
        """Epochs ``self.epoch + 1`` … ``epochs``, until a callback sets ``stop_training``."""
        try:
            for epoch in range(self.epoch + 1, epochs + 1):
                if self.stop_training:
                    break
                self._run_epoch(epoch, epochs, train_loader, val_loader, reporter)
        except DivergenceError:
            raise  # decided on the reduced loss: every rank raises it together
        except Exception as error:  # raised on this rank alone: the others would wait forever
            if self._parallel is not None:
                _dist.abort(error)
            raise

    def _end_run(self, reporter) -> None:
        """The callbacks' end-of-training hook, and their summaries (early stopping's) in the log."""
        if self._parallel is not None:
            self._parallel.gather_optimizer_state(self.optimizer)  # ZeRO: the full state again
        for callback in self.callbacks:
            callback.on_train_end(self)
            summary = getattr(callback, "summary", None)
            if summary is not None and summary() is not None:
                reporter.note(summary())

    # ------------------------------------------------------------------ one epoch

    def _run_epoch(self, epoch, epochs, train_loader, val_loader, reporter) -> None:
        """One optimizer step per batch, then the epoch's History record, the scheduler, the
        callbacks and the checkpoint."""
        started = time.perf_counter()
        lr = self._begin_epoch(epoch, epochs, reporter)
        sums = _EpochSums()
        for step, batch in enumerate(train_loader, start=1):
            outputs, target, loss_value, n = self._forward_backward(batch, epoch, step)
            grad_norm, step_lr = self._optimizer_step(epoch, step)
            sums.add(n, loss_value, grad_norm)
            if outputs is not None:  # None: this rank had no rows of the global batch
                for metric in self.metrics:
                    metric.update(outputs, target)
            self._record_step(epoch, step, loss_value, grad_norm, step_lr)
            reporter.step(step, loss_value, sums.seen / max(time.perf_counter() - started, 1e-9))
        record = self._epoch_record(epoch, lr, sums, started, val_loader)
        self._end_epoch(epoch, epochs, record, val_loader is not None, reporter)

    def _begin_epoch(self, epoch, epochs, reporter) -> float:
        """Training mode, the callbacks' epoch hook and empty metrics; returns the epoch's learning rate."""
        self.model.train()
        for callback in self.callbacks:
            callback.on_epoch_begin(self, epoch)
        lr = self._lr()
        for metric in self.metrics:
            metric.reset()
        reporter.epoch_begin(epoch, epochs)
        return lr

    def _forward_backward(self, batch, epoch, step):
        """The batch's mean loss and its gradient in the parameters' ``.grad``: returns
        (outputs, target, loss, rows). In one process a non-finite loss raises
        :class:`DivergenceError` before the backward pass; in a distributed run the loss and
        gradient are those of the global batch, the same on every rank."""
        if self._compiled is not None:
            inputs, target = split_batch(batch)
            outputs, loss = self._compiled(*inputs, target)
            loss_value = float(loss.item())
            if not math.isfinite(loss_value):  # parameters still untouched, as in the eager path
                raise self._divergence(epoch, step, "loss", loss_value)
            n = target.shape[0]
        elif self._parallel is None:
            inputs, target = split_batch(batch)
            outputs = self.model(*inputs)
            loss = self.loss(outputs, target)
            loss_value = float(loss.item())
            if not math.isfinite(loss_value):
                raise self._divergence(epoch, step, "loss", loss_value)
            self.optimizer.zero_grad()
            loss.backward()
            n = target.shape[0]
        else:
            outputs, target, loss_value, n = self._parallel_step(batch)
            if not math.isfinite(loss_value):
                raise self._divergence(epoch, step, "loss", loss_value)
        self._last_finite = (loss_value, epoch, step)
        return outputs, target, loss_value, n

    def _parallel_step(self, item):
        """Forward and backward on this rank's rows of the global batch, the all-reduce overlapping it:
        returns (outputs, target, global mean loss, global batch size); outputs and target
        are None when this rank has no rows in the batch (it still joins the all-reduce)."""
        local, total = item
        self.optimizer.zero_grad()
        outputs = target = None
        local_loss, n_local = 0.0, 0
        if local is not None:
            inputs, target = split_batch(local)
            outputs = self.model(*inputs)
            loss = self.loss(outputs, target)
            local_loss = float(loss.item())
            n_local = target.shape[0]
        self._parallel.begin_step(self._params, n_local, total, local_loss, self.optimizer)  # buckets' weights
        if local is not None:
            self._parallel.backward(loss)  # each gradient bucket's all-reduce starts as soon as it is complete
        loss_value = self._parallel.reduce_gradients(self._params, n_local, total, local_loss)
        return outputs, target, loss_value, total

    def _optimizer_step(self, epoch, step):
        """θ ← optimizer(θ, g) once ‖g‖₂ is known to be finite, g clipped first when asked (then
        the per-step scheduler); returns ‖g‖₂ (before clipping) and the learning rate of the step."""
        grad_norm = global_grad_norm(self._params) if self._parallel is None else self._parallel.grad_norm(self._params)
        if not math.isfinite(grad_norm):
            raise self._divergence(epoch, step, "gradient norm", grad_norm)
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self._params, self.clip_grad_norm)
        step_lr = self._lr()
        self.optimizer.step() if self._parallel is None else self._parallel.step(self.optimizer)
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        self.global_step += 1
        return grad_norm, step_lr

    def _record_step(self, epoch, step, loss_value, grad_norm, lr) -> None:
        """The step's row of ``history.steps``, then the callbacks' batch hook."""
        for name, value in zip(STEP_COLUMNS, (self.global_step, epoch, loss_value, grad_norm, lr)):
            self.history.steps[name].append(value)
        if self.callbacks:
            logs = {"epoch": epoch, "step": step, "loss": loss_value, "grad_norm": grad_norm, "lr": lr}
            for callback in self.callbacks:
                callback.on_batch_end(self, step, logs)

    def _epoch_record(self, epoch, lr, sums, started, val_loader) -> dict:
        """The epoch's History record: training loss and metrics (over all ranks), validation
        results, mean gradient norm, learning rate, time and throughput."""
        train_seconds = time.perf_counter() - started
        if self._parallel is not None:
            for metric in self.metrics:
                self._parallel.reduce_metric(metric)
        record = {"epoch": epoch, "train_loss": sums.loss / sums.seen}
        for metric in self.metrics:
            record[f"train_{metric.name}"] = metric.compute()
        if val_loader is not None:
            record.update({f"val_{name}": value for name, value in self._evaluate(val_loader).items()})
        record.update({"grad_norm": sums.grad_norm / sums.steps, "lr": lr,
                       "time": time.perf_counter() - started,
                       "samples_per_sec": sums.seen / max(train_seconds, 1e-9)})
        return record

    def _end_epoch(self, epoch, epochs, record, has_validation, reporter) -> None:
        """Record the epoch, step the per-epoch scheduler, call the callbacks' epoch hook, report,
        and write the checkpoint when one is due."""
        self.history.epochs.append(record)
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if _steps_on_metric(self.scheduler):
                self.scheduler.step(record["val_loss" if has_validation else "train_loss"])
            else:
                self.scheduler.step()
        for callback in self.callbacks:
            callback.on_epoch_end(self, epoch, record)
        self.epoch = epoch
        reporter.epoch_end(record, epochs)
        if self.checkpoint_path is not None and (
            epoch % self.checkpoint_every == 0 or epoch == epochs or self.stop_training
        ):
            self.save_checkpoint(self.checkpoint_path)
            self._last_checkpoint = (self.checkpoint_path, epoch)

    def _evaluate(self, loader) -> dict:
        """Loss and metrics over ``loader`` (and all ranks) in evaluation mode, without a graph."""
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        metrics = [metric.fresh() for metric in self.metrics]
        loss_sum, seen = 0.0, 0
        try:
            with no_grad():
                for batch in loader if loader is not None else ():  # None: no rows on this rank
                    inputs, target = split_batch(batch)
                    outputs = self.model(*inputs)
                    n = target.shape[0]
                    loss_sum += float(self.loss(outputs, target).item()) * n
                    seen += n
                    for metric in metrics:
                        metric.update(outputs, target)
        finally:
            if was_training:
                self.model.train()
        if self._parallel is not None:
            loss_sum, seen = self._parallel.reduce_sums(loss_sum, seen)
            for metric in metrics:
                self._parallel.reduce_metric(metric)
        result = {"loss": loss_sum / seen}
        result.update({metric.name: metric.compute() for metric in metrics})
        return result

    def _lr(self) -> float:
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else float("nan")

    def _divergence(self, epoch: int, step: int, quantity: str, value: float) -> DivergenceError:
        return divergence_error(epoch, step, quantity, value, global_step=self.global_step + 1,
                                last_finite=self._last_finite, last_checkpoint=self._last_checkpoint,
                                checkpoint_path=self.checkpoint_path, lr=self._lr())

    def __repr__(self) -> str:
        metrics = ["loss"] + [m.name for m in self.metrics]
        return (f"Trainer(model={type(self.model).__name__}, optimizer={type(self.optimizer).__name__}, "
                f"metrics={metrics}, epoch={self.epoch})")


# ---------------------------------------------------------------------- helpers

class _EpochSums:
    """What an epoch adds up over its steps: rows seen, Σ n_B · L_B, Σ ‖g‖₂ and the steps."""

    def __init__(self):
        self.seen, self.loss, self.grad_norm, self.steps = 0, 0.0, 0.0, 0

    def add(self, n: int, loss_value: float, grad_norm: float) -> None:
        self.seen += n
        self.loss += loss_value * n
        self.grad_norm += grad_norm
        self.steps += 1


def _compiled_step(trainer: Trainer, enabled):
    """The compiled forward-and-backward of ``trainer`` (None when ``compile`` is False)."""
    if enabled not in (True, False) or (enabled and trainer.distributed):
        raise ValueError(f"Trainer: compile must be True or False, and False in distributed runs; got {enabled!r}")
    if not enabled:
        return None
    from .compiler import forward_backward_step  # noqa: PLC0415 - imported only by compiling trainers

    return forward_backward_step(trainer)


def _steps_on_metric(scheduler) -> bool:
    """Schedulers like ReduceLROnPlateau are stepped with the monitored value; so is a
    schedule that hands over to one (``LinearWarmup(..., then=ReduceLROnPlateau(...))``)."""
    while scheduler is not None:
        if any(cls.__name__ == "ReduceLROnPlateau" for cls in type(scheduler).__mro__):
            return True
        scheduler = getattr(scheduler, "then", None)
    return False


def _check_verbose(verbose) -> int:
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"Trainer: verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch); got {verbose!r}"
        )
    return verbose


def _check_clip(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Trainer: clip_grad_norm must be None or a positive number; got {value!r}")
    return float(value)
