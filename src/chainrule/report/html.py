"""A self-contained HTML report of a run: results first, then settings, data and timings.

:class:`Report` collects sections and renders one HTML5 file that needs nothing else to
be viewed: figures are embedded as ``data:image/png;base64,…`` images, the CSS is
inline, and there is no JavaScript and no reference to any network resource. Every
section is ``<section id="<slug>"><h2>title</h2>…</section>`` and is listed in the table
of contents at the top; the footer names the chainrule version and the UTC time the file
was generated.

Results lead: the sections of :meth:`Report.add_settings`, :meth:`Report.add_data_summary`
and :meth:`Report.add_timings` (the run's details) are placed after every other section,
whatever the order they were added in, each collapsed in a ``<details>`` element whose
``<summary>`` holds its ``<h2>``; the results (tables, summaries, figures, text) keep the
order they were added in. Numeric table columns are right-aligned with their decimal points
aligned (figure spaces pad the shorter fractions). All text that comes from the user (titles, column names, values) is
HTML-escaped; only :meth:`Report.add_html` and the ``as_html()`` of
:meth:`Report.add_summary` insert markup as it is.

The figure builders (``figure_loss_curves``, ``figure_metric_curves``,
``figure_gradient_and_lr``, ``figure_optimizer_comparison``, ``figure_coefficients``,
``figure_predicted_vs_actual``, ``figure_confusion_matrix``) live in
:mod:`chainrule.report.figures` (both are exported by :mod:`chainrule.report`). They draw on matplotlib's Agg
canvas without pyplot, so importing or using this module never changes the user's
matplotlib backend.

Example::

    from chainrule.report import Report, figure_loss_curves

    report = Report("Digits MLP")
    report.add_settings({"model": "mlp", "hidden": [64, 64], "optimizer": "adam", "lr": 1e-3})
    report.add_figure("Loss", figure_loss_curves(history, loss_name="cross-entropy"))
    report.add_summary("OLS", ols_result.summary())
    report.add_timings({"load": 0.12, "fit": 3.4})
    report.write("chainrule-output")      # report.html and loss.png
"""
from __future__ import annotations

import base64
import datetime
import io
import math
import numbers
import os
import re
import struct
import sys
from html import escape as _escape
from pathlib import Path

import numpy as np

from .style import FIGURE_SPACE, MAX_PAD, PAD_CSS, PUNCTUATION_SPACE, REPORT_CSS

__all__ = ["Report", "format_value"]

FIGURE_DPI = 110
_DIGITS = 4  # significant digits of floats in tables
_RESERVED_IDS = frozenset({"contents"})
_DETAIL_CLASS = ' class="detail"'
_NUM_CLASS = ' class="num"'
_UNSAFE_MARKUP = re.compile(r"<\s*script\b|\bsrc\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


class Report:
    """An HTML report built section by section; see the module docstring.

    Args:
        title: the report's title (the ``<title>`` and the ``<h1>``).

    Attributes:
        title: as given.
        sections: list of (slug, title) in order.
        figures: list of (slug, PNG bytes), one per :meth:`add_figure`.
    """

    def __init__(self, title: str):
        self.title = _check_title(title, "Report")
        self._sections: list = []  # (slug, title, html body, is a collapsed detail)
        self._css_rules: list = []  # the decimal padding of the summaries' tables
        self._figures: list = []  # (slug, png bytes)

    # ------------------------------------------------------------------ sections

    def add_settings(self, settings: dict, title: str = "Run settings") -> str:
        """A key/value table of the run's settings (nested dicts and lists are shown
        nested and joined), collapsed among the run's details after the results.
        Returns the section's slug."""
        _check_mapping(settings, "settings", "add_settings")
        return self._add(title, _key_value_table(settings), "add_settings", details=True)

    def add_data_summary(self, summary: dict, title: str = "Data") -> str:
        """The data summary from ``TabularEncoder.summary()`` (rows in and dropped,
        columns, inferred types, encodings and levels, dropped constant columns,
        standardization) as a key/value table; a nested dict (e.g. levels per column)
        becomes a nested table with one row per key, a list is joined with commas.
        Collapsed among the run's details after the results."""
        _check_mapping(summary, "summary", "add_data_summary")
        return self._add(title, _key_value_table(summary), "add_data_summary", details=True)

    def add_table(self, title: str, table, *, caption: str | None = None, digits: int = _DIGITS) -> str:
        """A table from a pandas DataFrame (its index is shown unless it is the default
        0..n−1), a list of dicts (columns in first-seen order; a key a row lacks is
        shown as "—") or a dict of equal-length columns. Floats get ``digits``
        significant digits, integers are shown whole, numbers are right-aligned."""
        if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
            raise ValueError(f"add_table: digits must be a positive int; got {digits!r}")
        headings, rows = _table_rows(table, "add_table")
        body = _table_html(headings, rows, digits) + _caption(caption, "add_table")
        return self._add(title, body, "add_table")

    def add_summary(self, title: str, summary) -> str:
        """A results table: ``summary.as_html()`` when it has one (chainrule.stats
        Summary, statsmodels), else ``summary.as_text()`` or ``str(summary)`` in ``<pre>``."""
        title = _check_title(title, "add_summary")
        slug = self._unique_slug(title)
        if hasattr(summary, "as_html"):
            body = _check_markup(summary.as_html(), "summary.as_html()", "add_summary")
            body, rules = align_markup_tables(body, slug)
            self._css_rules.append(rules)
            body = f'<div class="summary">{body}</div>'
        else:
            text = summary.as_text() if hasattr(summary, "as_text") else str(summary)
            body = f"<pre>{_escape(str(text))}</pre>"
        return self._add(title, body, "add_summary")

    def add_figure(self, title: str, figure, *, caption: str | None = None) -> str:
        """A matplotlib Figure, rendered now to PNG (``FIGURE_DPI`` dpi, tight bounding
        box, white background) and embedded as base64. The figure is closed if pyplot
        manages it; its PNG bytes are kept in :attr:`figures` for :meth:`write`."""
        from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only when figures are used

        if not isinstance(figure, Figure):
            hint = " (figure_metric_curves returns None when a history has no metrics)" if figure is None else ""
            raise TypeError(f"add_figure: figure must be a matplotlib.figure.Figure; got "
                            f"{type(figure).__name__}{hint}")
        title = _check_title(title, "add_figure")
        caption_html = _caption(caption, "add_figure", tag="figcaption")
        png = _render_png(figure)
        width, height = _png_size(png)
        encoded = base64.b64encode(png).decode("ascii")
        body = (f'<figure><img src="data:image/png;base64,{encoded}" alt="{_escape(title)}" '
                f'width="{width}" height="{height}">{caption_html}</figure>')
        slug = self._add(title, body, "add_figure")
        self._figures.append((slug, png))
        return slug

    def add_text(self, title: str, text: str) -> str:
        """Plain text: escaped, one ``<p>`` per paragraph (paragraphs split at blank lines)."""
        if not isinstance(text, str):
            raise TypeError(f"add_text: text must be a str; got {type(text).__name__}")
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        body = "".join(f"<p>{_escape(p)}</p>" for p in paragraphs)
        return self._add(title, body, "add_text")

    def add_html(self, title: str, html: str) -> str:
        """A trusted HTML fragment, inserted as it is. It must not contain ``<script>``
        or load anything from the network (``src="http…"``): the report is script-free
        and self-contained."""
        return self._add(title, _check_markup(html, "html", "add_html"), "add_html")

    def add_timings(self, timings: dict, title: str = "Timings") -> str:
        """Seconds per phase ({"fit": 3.2, …}), shown with units (µs, ms, s, min, h)
        and as plain seconds; collapsed among the run's details after the results."""
        _check_mapping(timings, "timings", "add_timings")
        rows = []
        for phase, seconds in timings.items():
            if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not math.isfinite(seconds) \
                    or seconds < 0:
                raise ValueError(f"add_timings: timings[{phase!r}] must be a finite number of seconds >= 0; "
                                 f"got {seconds!r}")
            rows.append([str(phase), _Duration(float(seconds)), float(seconds)])
        return self._add(title, _table_html(["phase", "time", "seconds"], rows, _DIGITS), "add_timings",
                         details=True)

    # ------------------------------------------------------------------ output

    @property
    def sections(self) -> list:
        """(slug, title) of every section in the order of the page: results, then details."""
        return [(slug, title) for slug, title, _, _ in self._ordered()]

    @property
    def figures(self) -> list:
        return list(self._figures)

    def to_html(self) -> str:
        """The whole report as one HTML5 document (a str)."""
        from .. import __version__  # noqa: PLC0415 - chainrule/__init__ does not import this module

        generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        title = _escape(self.title)
        ordered = self._ordered()
        contents = "".join(f'<li{_DETAIL_CLASS if details else ""}><a href="#{slug}">{_escape(name)}</a></li>'
                           for slug, name, _, details in ordered)
        head = (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="color-scheme" content="light">\n'
            '<link rel="icon" href="data:,">\n'  # no favicon request, so no 404 in a browser's console
            f'<meta name="generator" content="chainrule {_escape(__version__)}">\n'
            f"<title>{title}</title>\n<style>{REPORT_CSS}{PAD_CSS}{''.join(self._css_rules)}</style>\n</head>\n"
            "<body>\n<main>\n"
            f"<header><h1>{title}</h1></header>\n"
            f'<nav id="contents" aria-label="Contents"><h2>Contents</h2>'
            f'{f"<ol>{contents}</ol>" if contents else "<p>This report has no sections.</p>"}</nav>\n'
        )
        # one join of the pieces: the figures' base64 text is copied once, not once per step
        pieces = [head]
        for slug, name, body, details in ordered:
            if not details:
                pieces += [f'<section id="{slug}"><h2>{_escape(name)}</h2>', body, "</section>\n"]
        if any(details for *_, details in ordered):
            pieces.append('<div class="details"><p class="details-label">Run details: settings, data and timings '
                          "(click a heading to open)</p>\n")
            for slug, name, body, details in ordered:
                if details:
                    pieces += [f'<section id="{slug}" class="detail"><details><summary><h2>{_escape(name)}</h2>'
                               "</summary>", body, "</details></section>\n"]
            pieces.append("</div>\n")
        pieces.append(f"<footer>Generated by chainrule {_escape(__version__)} on {generated}.</footer>\n"
                      "</main>\n</body>\n</html>\n")
        return "".join(pieces)

    def write(self, path) -> Path:
        """Write the report and return the path of the HTML file.

        ``path`` is a directory (created if missing; any path without an ``.html`` /
        ``.htm`` suffix counts as one), which receives ``report.html`` and each figure
        as ``<slug>.png``; or the path of the HTML file itself (no PNG files then).
        Every file is written atomically: to a temporary file in the same directory,
        then ``os.replace``; the HTML is rendered before anything is written, so a
        failure leaves no partial file and the previous report, if any, intact.
        """
        path = Path(os.fspath(path))
        is_file = path.suffix.lower() in (".html", ".htm") and not path.is_dir()
        directory = path.parent if is_file else path
        document = self.to_html().encode("utf-8")
        directory.mkdir(parents=True, exist_ok=True)
        if not is_file:
            for slug, png in self._figures:
                _atomic_write(directory / f"{slug}.png", png)
        html_path = path if is_file else directory / "report.html"
        _atomic_write(html_path, document)
        return html_path

    def __repr__(self) -> str:
        return f"Report({self.title!r}, {len(self._sections)} sections, {len(self._figures)} figures)"

    # ------------------------------------------------------------------ internals

    def _add(self, title: str, body: str, method: str, details: bool = False) -> str:
        title = _check_title(title, method)
        slug = self._unique_slug(title)
        self._sections.append((slug, title, body, details))
        return slug

    def _ordered(self) -> list:
        """The sections as the page shows them: results in the order added, then the details."""
        return ([section for section in self._sections if not section[3]]
                + [section for section in self._sections if section[3]])

    def _unique_slug(self, title: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
        taken = {slug for slug, _, _, _ in self._sections} | _RESERVED_IDS
        slug, number = base, 2
        while slug in taken:
            slug, number = f"{base}-{number}", number + 1
        return slug


# ---------------------------------------------------------------------- tables

class _Duration(float):
    """Seconds, shown with a unit chosen for readability."""

    def __str__(self) -> str:
        s = float(self)
        if s == 0:
            return "0 s"
        if s < 1e-3:
            return f"{s * 1e6:.3g} µs"
        if s < 1:
            return f"{s * 1e3:.3g} ms"
        if s < 60:
            return f"{s:.3g} s"
        if s < 3599.5:
            whole = round(s)
            return f"{whole // 60} min {whole % 60} s"
        minutes = round(s / 60)
        return f"{minutes // 60} h {minutes % 60} min"


def _table_rows(table, method: str) -> tuple:
    """(headings, rows) from a DataFrame, a list of dicts or a dict of columns."""
    if _is_dataframe(table):
        headings = [str(c) for c in table.columns]
        rows = [list(row) for row in table.itertuples(index=False, name=None)]
        if not _has_default_index(table):
            headings.insert(0, "" if table.index.name is None else str(table.index.name))
            rows = [[index, *row] for index, row in zip(table.index, rows)]
        return headings, rows
    if isinstance(table, dict):
        lengths = {str(name): len(_check_column(values, name, method)) for name, values in table.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"{method}: the columns of table have different lengths: {lengths}; expected equal lengths"
            )
        columns = list(table.values())
        n = next(iter(lengths.values()), 0)
        return list(lengths), [[column[i] for column in columns] for i in range(n)]
    if isinstance(table, (list, tuple)) and all(isinstance(row, dict) for row in table):
        headings = list(dict.fromkeys(key for row in table for key in row))
        return [str(h) for h in headings], [[row.get(h, _MISSING) for h in headings] for row in table]
    raise TypeError(f"{method}: table must be a pandas DataFrame, a list of dicts or a dict of columns; "
                    f"got {type(table).__name__}")


def _table_html(headings: list, rows: list, digits: int) -> str:
    if not rows:
        head = "".join(f'<th scope="col">{_escape(h)}</th>' for h in headings)
        return f"<table><thead><tr>{head}</tr></thead></table><p>No rows.</p>"
    columns = [_aligned_column([row[j] for row in rows], digits) for j in range(len(headings))]
    head = "".join(f'<th scope="col"{_NUM_CLASS if column else ""}>{_breakable(h)}</th>'
                   for h, column in zip(headings, columns))
    body = "".join("<tr>" + "".join(_cell(value, digits, columns[j][i] if columns[j] else None)
                                    for j, value in enumerate(row)) + "</tr>"
                   for i, row in enumerate(rows))
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _breakable(heading: str) -> str:
    """An escaped column heading that may wrap after its underscores (``sublinear_first_violation``),
    so a wide table of snake_case columns fits the page instead of scrolling."""
    return _escape(heading).replace("_", "_<wbr>")


def _pad_class(tail: int, width: int) -> str:
    """The padding class of a number whose fraction has ``tail`` characters, in a column
    whose longest has ``width`` ("" when none is needed)."""
    if width <= tail:
        return ""
    return f"p{min(width - tail, MAX_PAD)}" if tail else f"q{min(width, MAX_PAD)}"


def _aligned_column(values: list, digits: int) -> list | None:
    """The padding class of each cell of a column of numbers, so their decimal points line
    up when right-aligned (None when the column is not all numbers or missing cells)."""
    if not any(_is_number(v) for v in values) or not all(
            (_is_number(v) and not isinstance(v, _Duration)) or v is None or v is _MISSING for v in values):
        return None
    tails = [_tail(format_value(v, digits)) if _is_number(v) else 0 for v in values]
    width = max(tails)
    return [_pad_class(tail, width) if _is_number(v) else "" for v, tail in zip(values, tails)]


_TABLE = re.compile(r"(<table\b[^>]*>)(.*?)(</table>)", re.S | re.I)
_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S | re.I)
_CELL = re.compile(r"<(td|th)\b([^>]*)>(.*?)</\1>", re.S | re.I)
_NUMBER = re.compile(r"^[-+−]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def align_markup_tables(markup: str, prefix: str) -> tuple:
    """Decimal alignment for the tables of an HTML fragment (a stats summary's
    ``as_html()``) whose cells must stay as they are: the k-th table without an id, if
    any of its numbers needs padding, gets ``id="<prefix>-t<k>"``, and the returned CSS
    gives each number of a column whose every ``<td>`` holds one number the padding
    (``::after``) its fraction lacks. Returns (markup, css). Tables with
    ``<thead>``/``<tbody>`` are left alone."""
    rules: dict = {}
    count = 0

    def table(match):
        nonlocal count
        opening, body = match.group(1), match.group(2)
        if " id=" in opening or re.search(r"<t(head|body)\b", body, re.I):
            return match.group(0)
        count += 1
        table_id = f"{prefix}-t{count}"
        padded = _row_padding(body, table_id)
        if not padded:  # the table stays exactly as given
            return match.group(0)
        for selector, padding in padded:
            rules.setdefault(padding, []).append(selector)
        return f'{opening[:-1]} id="{table_id}">' + body + match.group(3)

    markup = _TABLE.sub(table, markup)
    css = "".join(f'{",".join(selectors)}{{content:"{padding}"}}' for padding, selectors in rules.items())
    return markup, css


def _row_padding(body: str, table_id: str) -> list:
    """(CSS selector, padding) of every number of the table's numeric columns that needs one."""
    rows = [[(c.group(1).lower(), c.group(3).strip()) for c in _CELL.finditer(r.group(1))] for r in _ROW.finditer(body)]
    width: dict = {}
    for row in rows:
        for j, (tag, text) in enumerate(row):
            if tag == "td":
                numeric = bool(_NUMBER.match(text)) and width.get(j, 0) is not None
                width[j] = max(width.get(j, 0), _tail(text)) if numeric else None
    found = []
    for r, row in enumerate(rows, start=1):
        for j, (tag, text) in enumerate(row):
            if tag == "td" and width.get(j) and width[j] > _tail(text):
                tail = _tail(text)
                padding = FIGURE_SPACE * (width[j] - tail) if tail else PUNCTUATION_SPACE + FIGURE_SPACE * (
                    width[j] - 1)
                found.append((f"#{table_id} tr:nth-child({r})>td:nth-child({j + 1})::after", padding))
    return found


def _tail(text: str) -> int:
    """Characters from the decimal point to the end ("1.25" -> 3, "12" -> 0, "1e+10" -> 0)."""
    point = text.find(".")
    return len(text) - point if point >= 0 else 0


def _key_value_table(mapping: dict, digits: int = _DIGITS) -> str:
    """Rows of key | value; nested dicts become nested key/value tables."""
    if not mapping:
        return '<p class="empty">(none)</p>'
    rows = "".join(f'<tr><th scope="row">{_escape(str(key))}</th>{_cell(value, digits)}</tr>'
                   for key, value in mapping.items())
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def _cell(value, digits: int, pad: str | None = None) -> str:
    if pad and _is_number(value):
        return f'<td class="num {pad}">{_escape(format_value(value, digits))}</td>'
    if isinstance(value, dict):
        return f"<td>{_key_value_table(value, digits)}</td>"
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, dict) for item in value):
        headings, rows = _table_rows(list(value), "report")
        return f"<td>{_table_html(headings, rows, digits)}</td>"
    text = _escape(format_value(value, digits))
    return f'<td class="num">{text}</td>' if _is_number(value) else f"<td>{text}</td>"


def format_value(value, digits: int = _DIGITS) -> str:
    """How a report shows a value: floats with ``digits`` significant digits (no
    exponent between 1e-4 and 1e9), integers whole, None and missing cells as "—",
    lists and sets joined with ", ", NaN as "NaN" and infinities as "inf"/"-inf"."""
    if value is None or value is _MISSING:
        return "—"
    if isinstance(value, _Duration):
        return str(value)
    if isinstance(value, (bool, str, np.bool_)):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _format_float(float(value), digits)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(format_value(item, digits) for item in items) if items else "(none)"
    if hasattr(value, "tolist") and hasattr(value, "ndim"):  # NumPy arrays and scalars
        return format_value(value.tolist(), digits)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def _format_float(x: float, digits: int) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    magnitude = abs(x)
    if 1e-4 <= magnitude < 1e9:
        text = f"{x:.{digits}g}"
        return f"{x:.0f}" if "e" in text else text
    return f"{x:.{digits - 1}e}"


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def _is_dataframe(table) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(table, pandas.DataFrame)


def _has_default_index(frame) -> bool:
    index = frame.index
    return (type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1
            and index.name is None)


def _check_column(values, name, method: str):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise TypeError(f"{method}: column {name!r} of table must be a list or array; got {type(values).__name__}")
    return values


class _Missing:
    """A cell of a list-of-dicts table whose row lacks that key."""


_MISSING = _Missing()


# ---------------------------------------------------------------------- helpers

def _check_title(title, method: str) -> str:
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{method}: title must be a non-empty str; got {title!r}")
    return title


def _check_mapping(value, argument: str, method: str) -> None:
    if not isinstance(value, dict):
        raise TypeError(f"{method}: {argument} must be a dict; got {type(value).__name__}")


def _check_markup(fragment, argument: str, method: str) -> str:
    if not isinstance(fragment, str):
        raise TypeError(f"{method}: {argument} must be a str of HTML; got {type(fragment).__name__}")
    found = _UNSAFE_MARKUP.search(fragment)
    if found:
        raise ValueError(f"{method}: {argument} contains {found.group(0)!r}; the report must stay script-free "
                         f"and load nothing from the network (embed images as data: URIs)")
    return fragment


def _caption(caption, method: str, tag: str = "p") -> str:
    if caption is None:
        return ""
    if not isinstance(caption, str):
        raise TypeError(f"{method}: caption must be a str or None; got {type(caption).__name__}")
    return f'<{tag} class="caption">{_escape(caption)}</{tag}>'


def _render_png(figure) -> bytes:
    """PNG bytes of a figure (matplotlib prints PNG with Agg whatever the figure's
    canvas); the figure is closed afterwards when pyplot manages it."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight", facecolor="white")
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(figure)  # a no-op for a figure pyplot does not manage
    return buffer.getvalue()


def _png_size(png: bytes) -> tuple:
    """(width, height) in pixels from the PNG's IHDR chunk."""
    return struct.unpack(">II", png[16:24])


def _atomic_write(path: Path, data: bytes) -> None:
    from ..engine.serialization import atomic_write

    atomic_write(path, data)
