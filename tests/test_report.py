"""Tests for chainrule.report: the self-contained HTML report and the figure builders.

The report is built from a real (tiny) training run and a real OLS fit; the HTML is
parsed with the standard library's HTMLParser to check its structure, every embedded
image is decoded and read back with PIL, and the numbers the figures show (R², the
confusion counts) are compared with scikit-learn.
"""
from __future__ import annotations

import base64
import io
import math
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from sklearn.metrics import confusion_matrix, r2_score

import chainrule as cr
from chainrule import nn, optim
from chainrule.report import (
    Report,
    figure_coefficients,
    figure_confusion_matrix,
    figure_gradient_and_lr,
    figure_loss_curves,
    figure_metric_curves,
    figure_optimizer_comparison,
    figure_predicted_vs_actual,
    format_value,
)
from chainrule.report import html as report_module
from chainrule.stats import OLS
from chainrule.train import History, Trainer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID_ELEMENTS = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "wbr", "source"}


# ---------------------------------------------------------------------- fixtures

def _train(*, validation=True, metrics=("loss", "accuracy"), epochs=3):
    """A real short run: a 4-8-2 MLP on separable random data, Adam, batches of 32."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    cr.manual_seed(0)
    model = nn.MLP([4, 8, 2])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                      metrics=metrics, verbose=0)
    train = (cr.tensor(X[:64], dtype=cr.float32), cr.tensor(y[:64]))
    val = (cr.tensor(X[64:], dtype=cr.float32), cr.tensor(y[64:])) if validation else None
    return trainer.fit(train, val=val, epochs=epochs, batch_size=32)


@pytest.fixture(scope="module")
def history():
    return _train()


@pytest.fixture(scope="module")
def ols():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.0]) + 0.5 + rng.normal(size=80)
    return OLS().fit(X, y)


def _synthetic_history(train_loss, val_loss=None, steps_per_epoch=2):
    """A History filled by hand, for edge cases a short real run does not produce."""
    history = History()
    for epoch, loss in enumerate(train_loss, start=1):
        record = {"epoch": epoch, "train_loss": loss}
        if val_loss is not None:
            record["val_loss"] = val_loss[epoch - 1]
        record.update(grad_norm=1.0, lr=0.1, time=0.01, samples_per_sec=100.0)
        history.epochs.append(record)
        for k in range(steps_per_epoch):
            history.steps["step"].append(len(history.steps["step"]) + 1)
            history.steps["epoch"].append(epoch)
            history.steps["loss"].append(loss)
            history.steps["grad_norm"].append(1.0 / (k + epoch))
            history.steps["lr"].append(0.1)
    return history


def _optimizer_runs():
    steps = np.arange(1, 41)
    return {
        "gd": {"step": steps.tolist(), "loss": np.exp(-steps / 15).tolist(), "time": (steps * 0.01).tolist()},
        "adam": {"step": steps.tolist(), "loss": (np.exp(-steps / 3) + 1e-4).tolist(), "time": (steps * 0.02).tolist(),
                 "val_loss": [0.5, 0.1, 0.01, 0.001], "epoch": np.repeat([1, 2, 3, 4], 10).tolist()},
    }


class _Document(HTMLParser):
    """Collects what the tests look at and checks that every tag is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []
        self.ids, self.images, self.h2, self.links, self.sections = [], [], [], [], []
        self.doctype, self.text = None, []
        self._in_h2 = False

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs)
        if tag == "a":
            self.links.append(attrs.get("href"))
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_h2:
            self.h2[-1] += data


def _parse(document: str) -> _Document:
    parsed = _Document()
    parsed.feed(document)
    parsed.close()
    assert parsed.errors == []
    assert parsed.stack == []
    return parsed


def _full_report(history, ols) -> Report:
    report = Report("Run <1> & friends")
    report.add_settings({"model": "mlp", "hidden": [8], "optimizer": {"name": "adam", "lr": 0.01}, "seed": 0})
    report.add_data_summary({
        "rows_in": 96, "rows_dropped": 2, "columns": ["a<b", "region"],
        "types": {"a<b": "numeric", "region": "categorical"},
        "levels": {"region": ["east", "north", "west"]},
        "dropped_constant": [], "standardized": True,
    })
    report.add_table("Epochs", history.to_frame(), caption="one row per epoch")
    report.add_summary("OLS results", ols.summary())
    report.add_summary("Collinearity", ols.results_.collinearity())
    report.add_figure("Loss", figure_loss_curves(history, loss_name="cross-entropy"), caption="lower is better")
    report.add_figure("Metrics", figure_metric_curves(history))
    report.add_figure("Gradient norm and learning rate", figure_gradient_and_lr(history))
    report.add_figure("Optimizer comparison", figure_optimizer_comparison(_optimizer_runs(), loss_name="MSE"))
    conf = ols.conf_int()
    report.add_figure("Coefficients", figure_coefficients(ols.results_.names, ols.params, conf[:, 0], conf[:, 1]))
    report.add_figure("Predicted vs actual", figure_predicted_vs_actual([1.0, 2.0, 3.0], [1.1, 1.9, 3.2]))
    report.add_figure("Confusion matrix", figure_confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], ["no", "yes"]))
    report.add_text("Notes", "First paragraph.\n\nSecond <paragraph>.")
    report.add_html("Trusted", "<p><em>already</em> HTML</p>")
    report.add_timings({"load": 0.0123, "fit": 3.21, "report": 125.0})
    return report


EXPECTED_SECTIONS = [  # results in the order added, then settings, data and timings (added first and last)
    ("epochs", "Epochs"), ("ols-results", "OLS results"),
    ("collinearity", "Collinearity"), ("loss", "Loss"), ("metrics", "Metrics"),
    ("gradient-norm-and-learning-rate", "Gradient norm and learning rate"),
    ("optimizer-comparison", "Optimizer comparison"), ("coefficients", "Coefficients"),
    ("predicted-vs-actual", "Predicted vs actual"), ("confusion-matrix", "Confusion matrix"),
    ("notes", "Notes"), ("trusted", "Trusted"),
    ("run-settings", "Run settings"), ("data", "Data"), ("timings", "Timings"),
]
DETAIL_SECTIONS = {"run-settings", "data", "timings"}


@pytest.fixture(scope="module")
def full_report(history, ols):
    return _full_report(history, ols)


@pytest.fixture(scope="module")
def document(full_report):
    return full_report.to_html()


# ---------------------------------------------------------------------- the document

def test_every_section_is_present_in_order_with_its_heading_and_contents_link(full_report, document):
    parsed = _parse(document)
    assert parsed.sections == [slug for slug, _ in EXPECTED_SECTIONS]
    assert parsed.h2 == ["Contents"] + [title for _, title in EXPECTED_SECTIONS]
    assert parsed.links == [f"#{slug}" for slug, _ in EXPECTED_SECTIONS]
    assert full_report.sections == EXPECTED_SECTIONS
    assert len(parsed.ids) == len(set(parsed.ids))


def test_results_come_first_and_the_run_details_are_collapsed_after_them(document):
    first_detail = document.index('<section id="run-settings"')
    for slug, _ in EXPECTED_SECTIONS:
        where = document.index(f'<section id="{slug}"')
        assert (where >= first_detail) == (slug in DETAIL_SECTIONS), slug
    for slug in DETAIL_SECTIONS:  # collapsed: <details> closed by default, the heading in its <summary>
        section = re.search(rf'<section id="{slug}" class="detail">(.*?)</section>', document, re.S).group(1)
        assert section.startswith("<details><summary><h2>") and "<details open" not in section
    results = re.search(r'<section id="epochs">(.*?)</section>', document, re.S).group(1)
    assert "<details" not in results
    assert re.findall(r'<li class="detail"><a href="#([a-z-]+)"', document) == ["run-settings", "data", "timings"]


def test_numeric_columns_align_their_decimal_points():
    report = Report("x")
    report.add_table("t", {"name": ["a", "b", "c"], "x": [1.5, 12.25, 3], "n": [1, 20, 300]})
    html = report.to_html()
    cells = re.findall(r'<td class="(num[^"]*)">(.*?)</td>', html)
    # the text is the number alone; the padding is CSS after it: one figure space for "1.5", a
    # punctuation space and two figure spaces for "3", none for integers
    assert cells == [("num p1", "1.5"), ("num", "1"), ("num", "12.25"), ("num", "20"), ("num q3", "3"),
                     ("num", "300")]
    assert 'td.p1::after{content:"\\2007"}' in html and 'td.q3::after{content:"\\2008\\2007\\2007"}' in html


def test_summary_tables_get_aligned_decimals_without_touching_their_cells(ols):
    from chainrule.report.html import align_markup_tables

    markup = ("<table><tr><th></th><th>coef</th><th>name</th></tr><tr><th>a</th><td>-37.8099</td><td>x</td></tr>"
              "<tr><th>b</th><td>0.114776</td><td>y</td></tr><tr><th>c</th><td>0</td><td>z</td></tr></table>")
    aligned, css = align_markup_tables(markup, "s")
    assert aligned == markup.replace("<table>", '<table id="s-t1">', 1)
    assert css == ('#s-t1 tr:nth-child(2)>td:nth-child(2)::after{content:"\\2007\\2007"}'
                   '#s-t1 tr:nth-child(4)>td:nth-child(2)::after{content:"\\2008' + "\\2007" * 6 + '"}')
    assert align_markup_tables("<table><tr><td>1.5</td></tr><tr><td>2.5</td></tr></table>", "s") == (
        "<table><tr><td>1.5</td></tr><tr><td>2.5</td></tr></table>", "")  # nothing to pad: left as it is

    class Summary:
        def as_html(self):
            return markup

    report = Report("x")
    report.add_summary("Fit", Summary())
    html = report.to_html()
    assert '<table id="fit-t1"><tr><th></th>' in html and css.replace("#s-t1", "#fit-t1") in html
    assert html.count("<style>") == 1


def test_document_is_html5_with_inline_css_and_a_footer(document):
    parsed = _parse(document)
    assert document.startswith("<!DOCTYPE html>")
    assert parsed.doctype == "DOCTYPE html"
    assert '<meta charset="utf-8">' in document
    assert document.count("<style>") == 1
    assert re.findall(r"<link[^>]*>", document) == ['<link rel="icon" href="data:,">']  # no favicon request
    footer = re.search(r"<footer>(.*?)</footer>", document).group(1)
    assert f"chainrule {cr.__version__}" in footer
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", footer)


def test_no_script_and_no_network_reference(document):
    lowered = document.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert "javascript:" not in lowered
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", lowered)


def test_every_image_is_an_embedded_png_that_reads_back(full_report, document):
    images = _parse(document).images
    assert len(images) == 7 == len(full_report.figures)
    for attrs, (_slug, png) in zip(images, full_report.figures):
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        data = base64.b64decode(attrs["src"][len(prefix):], validate=True)
        assert data == png
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.format == "PNG"
            assert image.size == (int(attrs["width"]), int(attrs["height"]))
            # shown at 100% zoom without scaling: within the page's 1,044 px content column
            assert 200 < image.size[0] <= 1044 and 150 < image.size[1] < 1200
        assert attrs["alt"]


def test_user_text_is_escaped_everywhere(full_report, document):
    assert "<title>Run &lt;1&gt; &amp; friends</title>" in document
    assert "<h1>Run &lt;1&gt; &amp; friends</h1>" in document
    assert "a&lt;b" in document and "<b>" not in document
    assert "<p>Second &lt;paragraph&gt;.</p>" in document
    assert "<p><em>already</em> HTML</p>" in document  # add_html is trusted


def test_hostile_names_cannot_inject_markup():
    report = Report("x")
    report.add_table("</section><script>", {"<img src=x onerror=1>": [1, 2]})
    report.add_settings({"<script>": "</td><script>alert(1)</script>"})
    html = report.to_html()
    assert "<script" not in html.lower()
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    _parse(html)


def test_data_summary_shows_nested_levels_per_column(document):
    data = re.search(r'<section id="data"[^>]*>(.*?)</section>', document, re.S).group(1)
    assert '<th scope="row">levels</th>' in data
    assert '<th scope="row">region</th><td>east, north, west</td>' in data
    assert '<th scope="row">dropped_constant</th><td>(none)</td>' in data
    assert '<th scope="row">rows_dropped</th><td class="num">2</td>' in data


def test_summary_embeds_the_stats_table_and_text_objects_go_in_pre(document, ols):
    section = re.search(r'<section id="ols-results">(.*?)</section>', document, re.S).group(1)
    assert ols.summary().as_html() in re.sub(r' id="ols-results-t\d+"', "", section)  # ids: for decimal alignment
    collinearity = re.search(r'<section id="collinearity">(.*?)</section>', document, re.S).group(1)
    assert collinearity.startswith("<h2>Collinearity</h2><pre>Variance inflation factors:")


def test_timings_are_shown_with_units(document):
    section = re.search(r'<section id="timings"[^>]*>(.*?)</section>', document, re.S).group(1)
    cells = [cell.rstrip("\u2007\u2008") for cell in re.findall(r"<td[^>]*>(.*?)</td>", section)]  # decimal padding
    assert cells == ["load", "12.3 ms", "0.0123", "fit", "3.21 s", "3.21", "report", "2 min 5 s", "125"]


@pytest.mark.parametrize("seconds, shown", [
    (0.0, "0 s"), (4.2e-6, "4.2 µs"), (0.25, "250 ms"), (59.99, "60 s"), (60.4, "1 min 0 s"),
    (3599.4, "59 min 59 s"), (3599.6, "1 h 0 min"), (7260.0, "2 h 1 min"),
])
def test_durations_carry_their_unit(seconds, shown):
    report = Report("x")
    report.add_timings({"phase": seconds})
    assert re.findall(r"<td[^>]*>(.*?)</td>", report.to_html())[1] == shown


@pytest.mark.parametrize("timings, message", [
    ({"fit": -1.0}, r"timings\['fit'\] must be a finite number of seconds >= 0; got -1.0"),
    ({"fit": float("nan")}, r"timings\['fit'\].*got nan"),
    ({"fit": "3 s"}, r"timings\['fit'\].*got '3 s'"),
])
def test_bad_timings_name_the_phase(timings, message):
    with pytest.raises(ValueError, match=message):
        Report("x").add_timings(timings)


# ---------------------------------------------------------------------- tables and numbers

@pytest.mark.parametrize("value, shown", [
    (0.123456789, "0.1235"),
    (3.0, "3"),
    (np.float32(2.5), "2.5"),
    (np.int64(42), "42"),
    (10**12, "1000000000000"),
    (123456.789, "123457"),
    (9999.7, "10000"),
    (-0.000123456, "-0.0001235"),
    (1e-12, "1.000e-12"),
    (2.5e12, "2.500e+12"),
    (0.0, "0"),
    (float("nan"), "NaN"),
    (float("-inf"), "-inf"),
    (None, "—"),
    (True, "True"),
    (np.bool_(False), "False"),
    ("text", "text"),
    ([1, 2.25, "a"], "1, 2.25, a"),
    ((), "(none)"),
    (np.array([0.5, 1.0]), "0.5, 1"),
])
def test_format_value(value, shown):
    assert format_value(value) == shown


def test_numbers_are_right_aligned_and_text_is_not():
    report = Report("x")
    report.add_table("t", [{"name": "a", "n": 3, "x": 0.5, "flag": True}])
    row = re.search(r"<tbody><tr>(.*?)</tr>", report.to_html()).group(1)
    assert row == '<td>a</td><td class="num">3</td><td class="num">0.5</td><td>True</td>'


def test_snake_case_headings_may_wrap_after_their_underscores():
    report = Report("x")
    report.add_table("t", [{"sublinear_first_violation": 1, "a<b": "x"}])
    assert '<th scope="col" class="num">sublinear_<wbr>first_<wbr>violation</th><th scope="col">a&lt;b</th>' \
        in report.to_html()


def test_table_inputs_agree():
    pandas = pytest.importorskip("pandas")
    columns = {"name": ["a", "b"], "value": [1.5, 2.0]}
    records = [{"name": "a", "value": 1.5}, {"name": "b", "value": 2.0}]
    bodies = []
    for table in (columns, records, pandas.DataFrame(columns)):
        report = Report("x")
        report.add_table("t", table)
        bodies.append(re.search(r'<section id="t">(.*?)</section>', report.to_html(), re.S).group(1))
    assert bodies[0] == bodies[1] == bodies[2]
    assert '<th scope="col">name</th><th scope="col" class="num">value</th>' in bodies[0]  # numbers: right


def test_a_named_index_is_shown_and_a_missing_key_is_a_dash():
    pandas = pytest.importorskip("pandas")
    report = Report("x")
    report.add_table("framed", pandas.DataFrame({"v": [1, 2]}, index=pandas.Index(["p", "q"], name="term")))
    report.add_table("records", [{"a": 1}, {"b": 2}])
    html = report.to_html()
    assert '<th scope="col">term</th><th scope="col" class="num">v</th>' in html
    assert "<td>p</td>" in html
    assert '<tr><td class="num">1</td><td>—</td></tr><tr><td>—</td><td class="num">2</td></tr>' in html


@pytest.mark.parametrize("table, error, message", [
    ({"a": [1, 2], "b": [1]}, ValueError, r"different lengths: \{'a': 2, 'b': 1\}"),
    ("a,b\n1,2", TypeError, "table must be a pandas DataFrame, a list of dicts or a dict of columns; got str"),
    ([1, 2], TypeError, "got list"),
    ({"a": 5}, TypeError, "column 'a' of table must be a list or array; got int"),
])
def test_bad_tables_are_refused(table, error, message):
    with pytest.raises(error, match=message):
        Report("x").add_table("t", table)


def test_slugs_are_unique_and_never_clash_with_the_contents():
    report = Report("x")
    slugs = [report.add_text(title, "t") for title in ("Loss", "Loss", "Contents", "∑", "Données 2024")]
    assert slugs == ["loss", "loss-2", "contents-2", "section", "donn-es-2024"]


@pytest.mark.parametrize("call, error, message", [
    (lambda r: Report(""), ValueError, "Report: title must be a non-empty str; got ''"),
    (lambda r: r.add_text(None, "x"), ValueError, "add_text: title must be a non-empty str; got None"),
    (lambda r: r.add_settings([("a", 1)]), TypeError, "add_settings: settings must be a dict; got list"),
    (lambda r: r.add_data_summary("rows"), TypeError, "add_data_summary: summary must be a dict; got str"),
    (lambda r: r.add_figure("f", None), TypeError, "figure_metric_curves returns None"),
    (lambda r: r.add_figure("f", "png"), TypeError, "must be a matplotlib.figure.Figure; got str"),
    (lambda r: r.add_html("h", "<script>x()</script>"), ValueError, "contains '<script'"),
    (lambda r: r.add_html(title="h", html=3), TypeError, "add_html: html must be a str of HTML; got int"),
    (lambda r: r.add_html("h", '<img src="https://example.org/a.png">'), ValueError, "load nothing from the network"),
    (lambda r: r.add_table("t", {"a": [1]}, digits=0), ValueError, "digits must be a positive int; got 0"),
    (lambda r: r.add_table("t", {"a": [1]}, caption=3), TypeError, "caption must be a str or None; got int"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(Report("x"))


# ---------------------------------------------------------------------- figures in the report

def test_add_figure_closes_a_pyplot_figure_and_keeps_its_png():
    pyplot = pytest.importorskip("matplotlib.pyplot")
    figure = pyplot.figure(figsize=(2, 1.5))
    figure.add_subplot().plot([0, 1], [1, 0])
    number = figure.number
    report = Report("x")
    slug = report.add_figure("Plain line", figure)
    assert not pyplot.fignum_exists(number)
    assert report.figures[0][0] == slug == "plain-line"
    assert report.figures[0][1].startswith(PNG_SIGNATURE)


def test_importing_the_report_leaves_pyplot_and_the_backend_alone():
    code = ("import sys, matplotlib; before = matplotlib.get_backend(); import chainrule.report; "
            "print('matplotlib.pyplot' in sys.modules, matplotlib.get_backend() == before)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "MPLBACKEND": "svg"})
    assert result.stdout.split() == ["False", "True"]


# ---------------------------------------------------------------------- write

def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_write_to_a_directory_writes_the_html_and_each_figure(tmp_path, full_report):
    out = tmp_path / "run" / "output"
    path = full_report.write(out)
    assert path == out / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    for slug, png in full_report.figures:
        assert (out / f"{slug}.png").read_bytes() == png
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.html"] + [f"{slug}.png" for slug, _ in full_report.figures])


def test_write_to_an_html_path_writes_only_that_file(tmp_path):
    report = Report("x")
    report.add_figure("f", _small_figure())
    path = report.write(tmp_path / "summary.html")
    assert path == tmp_path / "summary.html"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.html"]


def test_a_failed_render_writes_nothing_and_keeps_the_old_report(tmp_path, monkeypatch):
    report = Report("x")
    report.add_figure("f", _small_figure())
    (tmp_path / "report.html").write_text("old report")

    def broken(self):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(Report, "to_html", broken)
    with pytest.raises(RuntimeError, match="rendering failed"):
        report.write(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert (tmp_path / "report.html").read_text() == "old report"


def test_a_failed_replace_cleans_up_its_temporary_file(tmp_path, monkeypatch):
    report = Report("x")
    report.add_text("t", "new")
    (tmp_path / "report.html").write_text("old report")

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        report.write(tmp_path)
    assert _leftovers(tmp_path) == []
    assert (tmp_path / "report.html").read_text() == "old report"


def _small_figure():
    figure = Figure(figsize=(2, 1.5))
    figure.add_subplot().plot([0, 1], [0, 1])
    return figure


# ---------------------------------------------------------------------- figure builders

def _labels(axes):
    return axes.get_xlabel(), axes.get_ylabel()


def _line_labels(axes):
    return [line.get_label() for line in axes.get_lines()]


def test_loss_curves_label_axes_and_draw_train_validation_and_steps(history):
    figure = figure_loss_curves(history, loss_name="cross-entropy")
    (axes,) = figure.axes
    assert _labels(axes) == ("epoch", "loss (cross-entropy)")
    assert _line_labels(axes) == ["training loss per step", "training loss (epoch mean)", "validation loss"]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == _line_labels(axes)
    np.testing.assert_allclose(axes.get_lines()[2].get_ydata(), history["val_loss"])
    steps = axes.get_lines()[0].get_xdata()
    assert len(steps) == len(history.steps["loss"]) and steps[-1] == len(history)
    assert figure.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"


def test_loss_curves_without_validation_and_with_one_epoch():
    history = _train(validation=False, metrics=("loss",), epochs=1)
    (axes,) = figure_loss_curves(history).axes
    assert _labels(axes) == ("epoch", "loss")
    assert _line_labels(axes) == ["training loss per step", "training loss (epoch mean)"]
    assert axes.get_lines()[1].get_marker() == "o"  # a single epoch is a visible point
    assert list(axes.get_xticks()) == [0.0, 1.0]
    assert figure_metric_curves(history) is None


@pytest.mark.parametrize("train_loss, scale", [
    ([10.0, 1.0, 0.1, 0.01], "log"),     # three decades
    ([2.0, 1.5, 1.0, 0.5], "linear"),
    ([0.7, 0.7, 0.7], "linear"),          # constant
])
def test_loss_axis_goes_log_only_over_more_than_two_decades(train_loss, scale):
    figure = figure_loss_curves(_synthetic_history(train_loss, val_loss=train_loss))
    assert figure.axes[0].get_yscale() == scale
    assert _render(figure).startswith(PNG_SIGNATURE)


def test_metric_curves_one_axes_per_metric(history):
    figure = figure_metric_curves(history)
    visible = [axes for axes in figure.axes if axes.get_visible()]
    assert len(visible) == 1
    assert _labels(visible[0]) == ("epoch", "accuracy (share correct)")
    assert _line_labels(visible[0]) == ["training", "validation"]
    np.testing.assert_allclose(visible[0].get_lines()[0].get_ydata(), history["train_accuracy"])


def test_metric_curves_with_several_metrics_and_no_validation():
    history = _synthetic_history([1.0, 0.5])
    for record, (r2, mae, rmse, custom) in zip(history.epochs, [(0.2, 1.0, 1.2, 5.0), (0.6, 0.5, 0.7, 4.0)]):
        record.update(train_r2=r2, train_mae=mae, train_rmse=rmse, train_custom=custom)
    figure = figure_metric_curves(history)
    visible = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_ylabel() for axes in visible] == [
        "R² (share of variance explained)", "MAE (target units)", "RMSE (target units)", "custom"]
    assert all(_line_labels(axes) == ["training"] for axes in visible)
    assert len(figure.axes) == 6 and sum(not axes.get_visible() for axes in figure.axes) == 2


def test_gradient_and_lr_share_the_step_axis(history):
    figure = figure_gradient_and_lr(history)
    top, bottom = figure.axes
    assert top.get_ylabel() == r"gradient norm $\|g\|_2$" and top.get_yscale() == "log"
    assert _labels(bottom) == ("optimizer step", "learning rate")
    assert top.get_shared_x_axes().joined(top, bottom)
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), history.steps["grad_norm"])
    np.testing.assert_allclose(bottom.get_lines()[0].get_ydata(), history.steps["lr"])
    assert _render(figure).startswith(PNG_SIGNATURE)


def test_gradient_axis_is_linear_when_a_gradient_is_zero():
    history = _synthetic_history([0.5, 0.5])
    history.steps["grad_norm"][0] = 0.0
    assert figure_gradient_and_lr(history).axes[0].get_yscale() == "linear"


def test_optimizer_comparison_axes_legend_and_validation_points():
    runs = _optimizer_runs()
    figure = figure_optimizer_comparison(runs, loss_name="MSE")
    by_step, by_time = figure.axes
    assert _labels(by_step) == ("optimizer step", "loss (MSE)")
    assert by_time.get_xlabel() == "wall time (s)"
    assert by_step.get_yscale() == "log"
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == ["gd", "adam", "training loss (per step)", "validation loss (per epoch)"]
    val_line = by_step.get_lines()[2]
    np.testing.assert_array_equal(val_line.get_xdata(), [10, 20, 30, 40])  # the last step of each epoch
    np.testing.assert_allclose(by_time.get_lines()[2].get_xdata(), [0.2, 0.4, 0.6, 0.8])
    assert _render(figure).startswith(PNG_SIGNATURE)


def test_optimizer_comparison_without_validation_ignores_extra_keys():
    runs = {"sgd": {"step": [1, 2, 3], "loss": [1.0, 0.8, 0.7], "time": [0.1, 0.2, 0.3], "val_loss": [],
                    "seconds": 0.3, "lr": 0.1}}
    figure = figure_optimizer_comparison(runs)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["sgd"]
    assert [len(axes.get_lines()) for axes in figure.axes] == [1, 1]
    np.testing.assert_allclose(figure.axes[1].get_lines()[0].get_xdata(), [0.1, 0.2, 0.3])


@pytest.mark.parametrize("runs, error, message", [
    ({}, ValueError, "runs must be a non-empty dict"),
    ({"gd": {"step": [1, 2], "loss": [1.0, 0.5]}}, ValueError, "runs['gd'] lacks ['time']"),
    ({"gd": {"step": [1, 2], "loss": [1.0], "time": [0.1, 0.2]}}, ValueError,
     "runs['gd']['loss'] has 1 values; expected 2"),
    ({"gd": {"step": [1, 2, 3], "loss": [1, 1, 1], "time": [0, 1, 2], "val_loss": [1, 2]}}, ValueError,
     "do not split into equal epochs; add an 'epoch' list"),
    ({"gd": [1, 2]}, TypeError, "runs['gd'] must be a dict"),
])
def test_optimizer_comparison_refuses_bad_runs(runs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        figure_optimizer_comparison(runs)


def test_coefficients_plot_the_intervals_in_order(ols):
    conf = ols.conf_int()
    names = ols.results_.names
    figure = figure_coefficients(names, ols.params, conf[:, 0], conf[:, 1])
    (axes,) = figure.axes
    assert axes.get_ylabel() == "term"
    assert axes.get_xlabel().startswith("coefficient")
    assert names[0] == "const"
    assert [t.get_text() for t in axes.get_yticklabels()] == names[1:]  # the intercept is left out
    assert axes.get_title() == "Coefficients and 95% confidence intervals (const not shown)"
    assert axes.get_ylim()[0] > axes.get_ylim()[1]  # the first term is on top
    np.testing.assert_allclose(axes.get_lines()[0].get_xdata(), ols.params[1:])
    assert "zero" in [t.get_text() for t in figure.legends[0].get_texts()]  # below the axes, over no term
    everything = figure_coefficients(names, ols.params, conf[:, 0], conf[:, 1], level=0.9, omit=())
    assert [t.get_text() for t in everything.axes[0].get_yticklabels()] == names
    assert everything.axes[0].get_title() == "Coefficients and 90% confidence intervals"
    only_intercept = figure_coefficients(["const"], [1.0], [0.5], [1.5])
    assert [t.get_text() for t in only_intercept.axes[0].get_yticklabels()] == ["const"]


def test_coefficients_refuse_an_estimate_outside_its_interval():
    with pytest.raises(ValueError, match=r"term 'x1' has estimate 3 outside its interval \[0, 1\]"):
        figure_coefficients(["x1"], [3.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="upper has 1 values; expected 2"):
        figure_coefficients(["a", "b"], [1.0, 2.0], [0.0, 1.0], [2.0])


def test_predicted_vs_actual_reports_r2_as_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.normal(size=40)
    y_hat = y + 0.5 * rng.normal(size=40)
    figure = figure_predicted_vs_actual(y, y_hat, target_name="wage ($)")
    (axes,) = figure.axes
    assert _labels(axes) == (r"actual wage (\$)", r"predicted wage (\$)")
    label = axes.get_legend().get_texts()[0].get_text()
    assert label == f"observations (n = 40, R² = {r2_score(y, y_hat):.3f})"
    assert _render(figure).startswith(PNG_SIGNATURE)


def test_predicted_vs_actual_refuses_nan():
    with pytest.raises(ValueError, match="y_pred has 1 non-finite values"):
        figure_predicted_vs_actual([1.0, 2.0], [1.0, math.nan])


def test_figures_with_many_panels_or_classes_fit_the_page():
    history = _synthetic_history([1.0, 0.5])
    for record in history.epochs:
        record.update(train_r2=0.5, train_mae=1.0, train_rmse=1.2, train_custom=3.0)
    labels = [f"class {k}" for k in range(20)]
    y = np.arange(200) % 20
    for figure in (figure_metric_curves(history), figure_confusion_matrix(y, y[::-1], labels)):
        with Image.open(io.BytesIO(report_module._render_png(figure))) as image:
            assert image.size[0] <= 1044


def test_confusion_matrix_counts_match_scikit_learn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, size=60)
    y_hat = np.where(rng.random(60) < 0.7, y, rng.integers(0, 3, size=60))
    figure = figure_confusion_matrix(y, y_hat, ["low", "mid", "high"])
    axes = figure.axes[0]
    np.testing.assert_array_equal(axes.images[0].get_array(), confusion_matrix(y, y_hat, labels=[0, 1, 2]))
    assert _labels(axes) == ("predicted class", "actual class")
    assert [t.get_text() for t in axes.get_xticklabels()] == ["low", "mid", "high"]
    assert figure.axes[1].get_ylabel() == "count"  # the colour bar
    assert _render(figure).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, 1, 2], [0, 1, 1], "y_true has class indices [2] outside 0..1"),
    ([0, 1], [0, 1, 1], "y_true has 2 values but y_pred has 3"),
    ([0.5, 1.0], [0, 1], "y_true must hold class indices 0..1 (integers)"),
])
def test_confusion_matrix_refuses_bad_indices(y_true, y_pred, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        figure_confusion_matrix(y_true, y_pred, ["a", "b"])


@pytest.mark.parametrize("builder", [figure_loss_curves, figure_metric_curves, figure_gradient_and_lr])
def test_history_builders_refuse_an_empty_history_or_a_non_history(builder):
    with pytest.raises(ValueError, match="history has no epochs"):
        builder(History())
    with pytest.raises(TypeError, match="history must be a chainrule.train.History"):
        builder({"train_loss": [1.0]})


def _render(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def test_gradient_figure_draws_an_unknown_learning_rate_as_a_gap():
    history = _synthetic_history([0.5, 0.4])
    history.steps["lr"] = [math.nan] * len(history.steps["lr"])  # an optimizer without param_groups
    figure = figure_gradient_and_lr(history)
    assert figure.axes[1].get_yscale() == "linear"
    assert _render(figure).startswith(PNG_SIGNATURE)
