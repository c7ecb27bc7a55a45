"""Every report type of the command line and the built documentation, opened in a real browser.

Headless Chromium (Debian's package; the session fixture installs it with apt-get when it is
missing and skips only when that is impossible) loads each page from a local HTTP server and
is driven over the DevTools protocol (``websocket-client``). A page fails when

* the browser reports a JavaScript exception, a ``console.error`` or an error log entry (a
  resource that failed to load included),
* an ``<img>`` did not load (``naturalWidth == 0``),
* its screenshot is blank (no pixel variance) or it has no visible text,
* a line of code or preformatted text is clipped (wider than its box: neither wrapped nor
  shown whole).

Each report (``chainrule fit`` per model family, ``compare-optimizers``, ``diagnose``,
``landscape`` and the demo) must also lead with its results: every section before the
first collapsed ``<details>`` section is a result, the run's settings, data profile and
timings come after, closed. The guide's formulas are MathML elements drawn at a size
greater than zero, with no raw LaTeX left on the page.

The documentation is built here with ``mkdocs build --strict`` (warnings are errors), so this
file also keeps the docs build honest. The first test runs the checker on a deliberately broken
page, so a checker that sees nothing cannot pass unnoticed.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
MATH_PAGES = ["01-supervised-learning.html", "03-optimizers.html", "04-logistic-regression.html",
              "07-regularization.html"]
DOC_PAGES = ["index.html"] + [f"{name}.html" for name in (
    "01-supervised-learning", "02-gradient-descent", "03-optimizers", "04-logistic-regression",
    "05-neural-nets", "06-initialization-normalization", "07-regularization", "08-loss-landscapes",
    "09-computation", "10-gpu-and-cluster", "11-deep-nets", "api/theory", "api/optim", "api/models")]



# ------------------------------------------------------------------------- the browser

def find_chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def install_chromium() -> str:
    """Why Chromium could not be installed (empty when it was)."""
    if shutil.which("apt-get") is None:
        return "no apt-get to install Debian's chromium package"
    prefix = []
    if os.geteuid() != 0:
        if (shutil.which("sudo") is None
                or subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode):
            return "not root and no password-less sudo: run sudo apt-get install -y chromium"
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install, update = [*prefix, "apt-get", "install", "-y", "chromium"], [*prefix, "apt-get", "update"]
    for commands in ([install], [update, install]):
        try:
            if all(subprocess.run(c, env=env, capture_output=True, timeout=900, check=False).returncode == 0
                   for c in commands):
                return ""
        except (OSError, subprocess.TimeoutExpired) as error:
            last = str(error)
        else:
            last = f"{' '.join(commands[-1])} failed"
    return f"apt-get could not install chromium ({last})"


class Browser:
    """One headless Chromium and a minimal DevTools-protocol client for its pages."""

    def __init__(self, executable: str, profile: Path):
        import websocket

        self._websocket = websocket
        self.log = open(profile.parent / "chromium.log", "w")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--remote-allow-origins=*", "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = self._wait_for_port(profile / "DevToolsActivePort")

    def _wait_for_port(self, path: Path, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return int(path.read_text().split()[0])
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"Chromium did not open its DevTools port; see {self.log.name}")

    def open(self, url: str, screenshot: Path) -> dict:
        """Load ``url`` in a new tab; return its errors, broken images, text length and screenshot."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            target = json.load(response)
        page = _Page(self._websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30,
                                                       suppress_origin=True))
        try:
            for domain in ("Page", "Runtime", "Log"):
                page.call(f"{domain}.enable")
            page.call("Page.navigate", url=url)
            page.wait_for("Page.loadEventFired", timeout=30)
            page.settle(0.5)
            probe = page.call("Runtime.evaluate", returnByValue=True, expression=_PROBE)["result"]["value"]
            image = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
            screenshot.write_bytes(image)
            return {"errors": page.errors(), "broken_images": probe["broken"], "text": probe["text"],
                    "images": probe["images"], "screenshot": screenshot, "clipped": probe["clipped"],
                    "sections": probe["sections"], "math": probe["math"], "raw_latex": probe["rawLatex"]}
        finally:
            page.close()
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/close/{target['id']}", timeout=30).close()

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


_PROBE = """(() => {
  const images = Array.from(document.images);
  const visible = e => e.getClientRects().length > 0;
  const clipped = Array.from(document.querySelectorAll("pre, pre > code"))
    .filter(e => visible(e) && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 100));
  const sections = Array.from(document.querySelectorAll("main section[id]")).map(s => ({
    id: s.id, detail: s.classList.contains("detail"), images: s.querySelectorAll("img").length,
    open: s.querySelector("details") ? s.querySelector("details").open : null}));
  const math = Array.from(document.querySelectorAll("math")).map(m => {
    const box = m.getBoundingClientRect();
    return {width: box.width, height: box.height, display: m.getAttribute("display")};
  });
  const text = document.body ? document.body.innerText : "";
  return {images: images.length,
          broken: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 120)),
          text: text.trim().length, clipped: clipped, sections: sections, math: math,
          rawLatex: (text.match(/\\\\(frac|theta|alpha|beta|sum|hat|left|right|text)\\b|\\$\\$/g) || []).slice(0, 5)};
})()"""


class _Page:
    """Commands and events of one tab's DevTools websocket."""

    def __init__(self, connection):
        self.connection, self.events, self.next_id = connection, [], 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.connection.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.connection.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, event: str, timeout: float):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {timeout} s")
            self.events.append(json.loads(self.connection.recv()))

    def settle(self, seconds: float):
        """Collect the events of the next ``seconds`` (late script errors, lazy resources)."""
        self.connection.settimeout(seconds)
        with contextlib.suppress(self._timeout_errors()):
            while True:
                self.events.append(json.loads(self.connection.recv()))
        self.connection.settimeout(30)

    @staticmethod
    def _timeout_errors():
        import websocket

        return (websocket.WebSocketTimeoutException, TimeoutError)

    def errors(self) -> list:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console.error: "
                             + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return found

    def close(self):
        self.connection.close()


def blank_reason(png: Path):
    """Why a screenshot counts as blank (None when it shows something)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png.read_bytes())).convert("L"), dtype=np.float64)
    values, counts = np.unique(pixels, return_counts=True)
    background_share = counts.max() / pixels.size
    if pixels.std() < 2.0 or background_share > 0.995:
        return (f"std {pixels.std():.2f}, {background_share:.2%} of the pixels are one shade "
                f"{values[counts.argmax()]:.0f}")
    return None


def problems(result: dict) -> list:
    found = list(result["errors"])
    found += [f"broken image: {src}" for src in result["broken_images"]]
    found += [f"clipped line: {line!r}" for line in result.get("clipped", [])]
    if result["text"] < 20:
        found.append(f"almost no visible text ({result['text']} characters)")
    reason = blank_reason(result["screenshot"])
    if reason:
        found.append(f"blank screenshot ({reason})")
    return found


# ------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    pytest.importorskip("websocket", reason="websocket-client is needed: pip install 'chainrule[docs]'")
    executable = find_chromium()
    if executable is None:
        reason = install_chromium()
        executable = find_chromium()
        if executable is None:
            pytest.skip(f"Chromium is not installed and could not be: {reason}")
    folder = tmp_path_factory.mktemp("chromium")
    instance = Browser(executable, folder / "profile")
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A local HTTP server over one folder; ``url(relative_path)`` gives a page's address."""
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, lambda path: f"http://127.0.0.1:{httpd.server_address[1]}/{path}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="session")
def docs_site(server):
    pytest.importorskip("mkdocs", reason="the docs tools are needed: pip install 'chainrule[docs]' (make docs)")
    pytest.importorskip("latex2mathml", reason="the formulas need it: pip install 'chainrule[docs]' (make docs)")
    root, url = server
    site = root / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f",
                           str(ROOT / "mkdocs.yml"), "-d", str(site)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return lambda page: url(f"site/{page}")


# Every report type: the command, and the fewest figures its page must show.
REPORTS = {
    "fit-ols": (["fit", "grunfeld", "--target", "invest", "--model", "ols"], 3),
    "fit-logit": (["fit", "anes96", "--target", "vote", "--model", "logit"], 3),
    "fit-lasso": (["fit", "grunfeld", "--target", "invest", "--model", "lasso", "--cv", "3"], 3),
    "fit-penalized-logit": (["fit", "anes96", "--target", "vote", "--model", "logit", "--penalty", "l2",
                             "--cv", "3"], 3),
    "fit-stepwise": (["fit", "grunfeld", "--target", "invest", "--model", "stepwise"], 3),
    "fit-pcr": (["fit", "grunfeld", "--target", "invest", "--model", "pcr", "--cv", "3"], 3),
    "fit-mlp": (["fit", "digits", "--target", "target", "--model", "mlp", "--hidden", "16", "--epochs", "2"], 5),
    "compare-optimizers": (["compare-optimizers", "grunfeld", "--target", "invest", "--model", "ols",
                            "--optimizers", "gd,adam", "--epochs", "2"], 1),
    "diagnose": (["diagnose", "grunfeld", "--target", "invest", "--model", "ols"], 2),
    "landscape": (["landscape", "grunfeld", "--target", "invest", "--hidden", "4", "--epochs", "1",
                   "--steps", "5"], 2),
}
_WRITE_REPORTS = """
import json, sys
from chainrule.cli import main
failed = {name: main(argv) for name, argv in json.loads(sys.argv[1]).items()}
sys.exit(1 if any(failed.values()) else 0)
"""


@pytest.fixture(scope="session")
def cli_reports(server):
    """Every report type written by the command line into the served folder: name -> address."""
    root, url = server
    commands = {name: [*argv, "--out", str(root / name)] for name, (argv, _) in REPORTS.items()}
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", _WRITE_REPORTS, json.dumps(commands)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"a report command failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return {name: url(f"{name}/report.html") for name in REPORTS}


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: $CHAINRULE_SCREENSHOTS when set (to look at them), else a temporary folder."""
    folder = os.environ.get("CHAINRULE_SCREENSHOTS")
    if not folder:
        return tmp_path
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def results_first(sections: list) -> list:
    """What is wrong with a report's order: results first, the collapsed details after, closed."""
    found = []
    if not sections or sections[0]["detail"]:
        found.append(f"the page does not open with a result: {[s['id'] for s in sections[:3]]}")
    kinds = [s["detail"] for s in sections]
    if kinds != sorted(kinds):
        found.append(f"a result section follows the details: {[(s['id'], s['detail']) for s in sections]}")
    found += [f"{s['id']} is open" for s in sections if s["detail"] and s["open"]]
    found += [f"{s['id']} has no collapsed <details>" for s in sections if s["detail"] and s["open"] is None]
    found += [f"{s['id']} hides {s['images']} figures" for s in sections if s["detail"] and s["images"]]
    return found


@pytest.fixture(scope="session")
def demo_report(server):
    root, url = server
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "chainrule", "demo", "--out", str(root / "demo"),
                           "--epochs", "2", "--compare-epochs", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"chainrule demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return url("demo/report.html")


# ------------------------------------------------------------------------- tests

def _convert():
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from rst_docstrings import convert  # noqa: PLC0415 - the docs build's griffe extension
    finally:
        sys.path.pop(0)
    return convert


@pytest.mark.parametrize(("docstring", "markdown"), [
    (":func:`step_size` and :class:`~a.B`", "`step_size` and `a.B`"),
    ("and::\n\n    w = H v\n\nafter", "and:\n\n```text\nw = H v\n```\n\n\nafter"),
    ("f(x) − f* ≤ 1", "f(x) − f\\* ≤ 1"),
    ("θ_t = θ_{t-1}", "θ\\_t = θ\\_{t-1}"),
    ("code `x_k*` and ``y_j``", "code `x_k*` and `y_j`"),
    ("*Book Title*, 2nd ed.", "*Book Title*, 2nd ed."),
    ("Attributes:\n    a: first\n    and more\n    b_c: second",
     "Attributes:\n    a: first\n        and more\n    b_c: second"),
    ("====  ====\na     b\n====  ====\n1     2\n====  ====\nafter",
     "\n```text\n====  ====\na     b\n====  ====\n1     2\n====  ====\n```\n\nafter"),
    (">>> x = 1\n>>> x\n1\n\ntext", "\n```pycon\n>>> x = 1\n>>> x\n1\n```\n\n\ntext"),
])
def test_docstring_markdown_conversion(docstring, markdown):
    """The docs build's griffe extension turns reStructuredText habits into Markdown."""
    assert _convert()(docstring) == markdown


@pytest.mark.slow
def test_documentation_builds_strictly(docs_site, server):
    """mkdocs build --strict succeeded (the fixture asserts it) and wrote every page we open."""
    root, _ = server
    for page in DOC_PAGES:
        assert (root / "site" / page).stat().st_size > 2000, page
    assert "Z'(y − p)" in (root / "site" / "04-logistic-regression.html").read_text()


@pytest.mark.slow
def test_checker_catches_a_broken_page(browser, server, tmp_path):
    root, url = server
    (root / "broken.html").write_text(
        "<html><body><h1>A page with faults</h1><p>Some text so the page is not empty.</p>"
        "<img src='missing.png'><script>console.error('deliberate'); undefined_function();</script>"
        "</body></html>")
    (root / "blank.html").write_text("<html><body style='background:#fff'></body></html>")
    broken = problems(browser.open(url("broken.html"), tmp_path / "broken.png"))
    assert any("broken image" in p for p in broken)
    assert any("deliberate" in p for p in broken)
    assert any("undefined_function" in p for p in broken)
    blank = problems(browser.open(url("blank.html"), tmp_path / "blank.png"))
    assert any("blank screenshot" in p for p in blank)


@pytest.mark.slow
def test_demo_report_renders(browser, demo_report, shots):
    result = browser.open(demo_report, shots / "report-demo.png")
    assert problems(result) == []
    assert results_first(result["sections"]) == []
    assert result["images"] >= 5          # the demo's figures, embedded in the page


@pytest.mark.slow
@pytest.mark.parametrize("page", DOC_PAGES)
def test_documentation_page_renders(browser, docs_site, page, tmp_path):
    result = browser.open(docs_site(page), tmp_path / (page.replace("/", "_") + ".png"))
    assert problems(result) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_type_renders_results_first(browser, cli_reports, name, shots):
    result = browser.open(cli_reports[name], shots / f"report-{name}.png")
    assert problems(result) == []
    assert results_first(result["sections"]) == []
    assert result["images"] >= REPORTS[name][1], result["sections"]
    assert {s["id"] for s in result["sections"] if s["detail"]} >= {"run-settings", "data"}


@pytest.mark.slow
@pytest.mark.parametrize("page", MATH_PAGES)
def test_guide_formulas_render_as_mathml(browser, docs_site, page, shots):
    result = browser.open(docs_site(page), shots / ("math-" + page.replace(".html", ".png")))
    assert problems(result) == []
    assert result["math"], "no <math> element on the page"
    assert any(m["display"] == "block" for m in result["math"])
    assert all(m["width"] > 0 and m["height"] > 0 for m in result["math"]), result["math"]
    assert result["raw_latex"] == []
