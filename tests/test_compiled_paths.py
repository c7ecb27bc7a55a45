"""Both paths of every compiled (numba) kernel, and how the kernels are loaded and cached.

numba is a runtime dependency (issue 20, "fast by default"), and the plain-NumPy paths stay
as the reference and the fallback (``CHAINRULE_NO_NUMBA=1``). Here, for EVERY compiled
kernel in a ``*kernels*.py`` module under ``src/chainrule`` (the table ``CASES`` must name
them all, so a new kernel without a fallback test fails ``test_every_kernel_has_a_case``):
the same computation with the compiled kernel (asserted to have run) and with
``CHAINRULE_NO_NUMBA=1`` (asserted not to have run) gives the same numbers. Besides that:
``import chainrule`` does not import numba; every kernel is compiled with ``cache=True``; a
kernel module in a read-only directory (a read-only site-packages) still compiles, caching
into the user's cache directory, or into ``NUMBA_CACHE_DIR`` when that is set.
"""
from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim, stats
from chainrule.optim import kernels as optim_kernels
from chainrule.stats import coordinate_descent as cd_module
from chainrule.stats import logit_newton

numba = pytest.importorskip("numba")

SRC = Path(cr.__file__).resolve().parent


def kernel_modules() -> list:
    """Module names of the ``*kernels*.py`` files under src/chainrule that import numba."""
    names = []
    for path in sorted(SRC.rglob("*kernels*.py")):
        text = path.read_text()
        if "from numba" in text or "import numba" in text:
            names.append("chainrule." + ".".join(path.relative_to(SRC).with_suffix("").parts))
    return names


def dispatchers(module) -> dict:
    return {name: obj for name, obj in vars(module).items()
            if isinstance(obj, numba.core.registry.CPUDispatcher)}


class Counted:
    """Wraps a module's kernel so that a test can tell whether the kernel ran."""

    def __init__(self, monkeypatch, module_name, function):
        module = importlib.import_module(module_name)
        self.calls, kernel = 0, getattr(module, function)

        def counting(*args, **kwargs):
            self.calls += 1
            return kernel(*args, **kwargs)
        monkeypatch.setattr(module, function, counting)


def both_paths(monkeypatch, module_name, function, run):
    """run() with the compiled kernel allowed (it must run) and with CHAINRULE_NO_NUMBA=1 (it
    must not): returns the two results."""
    counter = Counted(monkeypatch, module_name, function)
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    compiled = run()
    assert counter.calls > 0, f"{function}: the compiled kernel did not run"
    counter.calls = 0
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    plain = run()
    assert counter.calls == 0, f"{function}: the compiled kernel ran with CHAINRULE_NO_NUMBA=1"
    monkeypatch.delenv("CHAINRULE_NO_NUMBA")
    return compiled, plain


# ---------------------------------------------------------------------- the cases

def optimizer_run(factory, dtype):
    def run():
        cr.manual_seed(0)
        model = cr.nn.MLP([6, 8, 3], dtype=dtype)
        opt = factory(model.parameters())
        rng = np.random.default_rng(1)
        for _ in range(4):
            x = cr.tensor(rng.standard_normal((5, 6)).astype(dtype))
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            opt.step()
        return [np.array(p.data) for p in model.parameters()]
    return run


OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "adam": lambda params: optim.Adam(params, lr=1e-2, amsgrad=True, weight_decay=1e-2),
    "rmsprop": lambda params: optim.RMSprop(params, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda params: optim.Adagrad(params, lr=0.1, lr_decay=1e-3, weight_decay=1e-2),
}


def optimizer_case(name):
    def case(monkeypatch):
        monkeypatch.setattr(optim_kernels, "COMPILED_MIN_SIZE", 0)  # the tests' parameters are small
        for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
            compiled, plain = both_paths(monkeypatch, "chainrule.optim.numba_kernels", name,
                                         optimizer_run(OPTIMIZERS[name], dtype))
            for a, b in zip(compiled, plain):
                assert a.dtype == dtype
                np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)
    return case


def lasso_case(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 12))
    y = X @ np.linspace(-1, 1, 12) + 0.3 * rng.standard_normal(200)
    assert cd_module.compiled_kernels(load=True) is not None  # as a path or a CV run loads them

    def run():
        model = stats.Lasso(0.05, tol=1e-12, max_iter=10_000).fit(X, y)
        return model.coef_, model.n_iter_
    (coef, sweeps), (plain_coef, plain_sweeps) = both_paths(monkeypatch, "chainrule.stats.lasso_kernels",
                                                            "cd_gram", run)
    np.testing.assert_allclose(coef, plain_coef, rtol=1e-12, atol=1e-12)
    assert sweeps == plain_sweeps


def gram_gap_case(monkeypatch):
    """The duality gap on a Gram matrix (called from inside ``cd_gram``): kernel against twin."""
    kernels = importlib.import_module("chainrule.stats.lasso_kernels")
    rng = np.random.default_rng(4)
    for alpha in (0.01, 0.5, 50.0):
        c, q, w = rng.standard_normal(7), rng.standard_normal(7), rng.standard_normal(7)
        compiled = kernels.gram_gap(c, q, w, alpha, 3.0)
        assert compiled == pytest.approx(cd_module._gram_gap_numpy(c, q, w, alpha, 3.0), rel=1e-13, abs=1e-14)


def logit_case(monkeypatch):
    monkeypatch.setattr(logit_newton, "_COMPILED_MIN_SIZE", 0)  # the kernel runs on large X only
    rng = np.random.default_rng(5)
    X = rng.standard_normal((9_000, 6))  # two full blocks of rows and a partial one
    y = (rng.random(9_000) < 1 / (1 + np.exp(-X @ np.linspace(-1, 1, 6)))).astype(float)
    beta = np.linspace(-0.3, 0.4, 7)

    def run():
        return logit_newton.Design(X, True).newton_pass(beta, y, hessian=True)
    compiled, plain = both_paths(monkeypatch, "chainrule.stats.logit_kernels", "weighted_rows", run)
    for a, b in zip(compiled, plain):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-10)

    def fit():
        model = stats.Logit().fit(X, y)
        return model.params, model.bse
    compiled, plain = both_paths(monkeypatch, "chainrule.stats.logit_kernels", "weighted_rows", fit)
    np.testing.assert_allclose(compiled[0], plain[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(compiled[1], plain[1], rtol=1e-10)


CASES = {
    ("chainrule.optim.numba_kernels", "sgd"): optimizer_case("sgd"),
    ("chainrule.optim.numba_kernels", "adam"): optimizer_case("adam"),
    ("chainrule.optim.numba_kernels", "rmsprop"): optimizer_case("rmsprop"),
    ("chainrule.optim.numba_kernels", "adagrad"): optimizer_case("adagrad"),
    ("chainrule.stats.lasso_kernels", "cd_gram"): lasso_case,
    ("chainrule.stats.lasso_kernels", "gram_gap"): gram_gap_case,
    ("chainrule.stats.logit_kernels", "weighted_rows"): logit_case,
}

# Kernel modules tested against their NumPy twins in their own test modules: the deep-net kernels
# (tests/test_nn_numba_kernels.py) and the step compiler's fused passes (tests/test_compile.py).
TESTED_ELSEWHERE = {"chainrule.nn.fused.numba_kernels", "chainrule.train.compiler.numba_kernels",
                    "chainrule.nn.fused.attention_kernels"}  # tests/test_nn_attention_kernels.py


# The deep-net kernels, each with the test module that holds it to its NumPy twin (both paths).
NN_KERNELS = {
    "_horner": "test_nn_numba_kernels", "_normal_cdf": "test_nn_numba_kernels", "_gelu_slope": "test_nn_numba_kernels",
    "gelu_forward_float32": "test_nn_numba_kernels", "gelu_backward": "test_nn_numba_kernels",
    "scatter_windows": "test_nn_numba_kernels", "shift_columns": "test_nn_numba_kernels",
    "softmax_columns_backward": "test_nn_numba_kernels", "layer_norm_rows": "test_nn_numba_kernels",
    "layer_norm_rows_backward": "test_nn_numba_kernels", "add_rows_at": "test_nn_numba_kernels",
    "channel_moments": "test_nn_batch_norm_relu", "normalize_rows": "test_nn_batch_norm_relu",
    "normalize_backward_sums": "test_nn_batch_norm_relu", "normalize_backward_rows": "test_nn_batch_norm_relu",
}


def test_every_deep_net_kernel_is_listed():
    module = importlib.import_module("chainrule.nn.fused.numba_kernels")
    assert set(dispatchers(module)) == set(NN_KERNELS)
    for test_module in set(NN_KERNELS.values()):
        assert (Path(__file__).parent / f"{test_module}.py").exists()


@pytest.mark.parametrize("key", list(CASES), ids=lambda key: f"{key[0].rsplit('.', 1)[1]}.{key[1]}")
def test_compiled_kernel_equals_numpy_fallback(key, monkeypatch):
    CASES[key](monkeypatch)


def test_every_kernel_has_a_case():
    found = set()
    for name in kernel_modules():
        if name in TESTED_ELSEWHERE:
            continue
        found |= {(name, function) for function in dispatchers(importlib.import_module(name))}
    assert found == set(CASES)


@pytest.mark.parametrize("name", kernel_modules())
def test_every_kernel_is_cached_on_disk(name):
    """cache=True on every @njit: only the first run on a machine pays for compiling."""
    module = importlib.import_module(name)
    found = dispatchers(module)
    assert found, f"{name} has no compiled kernels"
    for function, dispatcher in found.items():
        assert type(dispatcher._cache).__name__ != "NullCache", f"{name}.{function}: @njit without cache=True"


def test_kernel_decorators_spell_cache_true():
    """The same, read from the source: every njit/jit decorator passes cache=True, directly or
    through a module-level dict of options (the modules of this table; the others are held to
    cache=True by the dispatcher check above)."""
    for name in sorted(set(kernel_modules()) - TESTED_ELSEWHERE):
        path = SRC.joinpath(*name.split(".")[1:]).with_suffix(".py")
        tree = ast.parse(path.read_text())
        options = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
                   if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                   and isinstance(node.targets[0], ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                assert isinstance(decorator, ast.Call), f"{name}.{node.name}: bare decorator, no cache=True"
                cached = any(k.arg == "cache" and ast.literal_eval(k.value) is True for k in decorator.keywords)
                cached |= any(k.arg is None and isinstance(k.value, ast.Name)
                              and options.get(k.value.id, {}).get("cache") is True for k in decorator.keywords)
                assert cached, f"{name}.{node.name}: @njit without cache=True"


# ---------------------------------------------------------------------- loading

def run_python(code, env=None, prefix=()):
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    environment.update(env or {})
    return subprocess.run([*prefix, sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, timeout=300)


def test_import_chainrule_does_not_import_numba():
    """numba (about 0.4 s to import) starts on the first use of a compiled kernel only."""
    result = run_python("import sys, chainrule, chainrule.nn, chainrule.optim, chainrule.stats, chainrule.train\n"
                        "print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


KERNEL_CALL = """
import sys
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else {where!r})
import numpy as np
import logit_kernels
rows, root, res = np.ones((3, 2)), np.ones(3), np.ones(3)
out, score, edge = np.empty((3, 2)), np.zeros(2), np.zeros(2)
logit_kernels.weighted_rows(rows, root, res, out, score, edge)
assert score.tolist() == [3.0, 3.0], score
"""


def read_only_prefix():
    """A command prefix under which this process's files are read-only to the child: as
    root, permissions bind only without CAP_DAC_OVERRIDE (dropped by ``setpriv``)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("setpriv cannot drop capabilities here")
    return prefix


@pytest.mark.slow
@pytest.mark.parametrize("cache_dir", [False, True], ids=["user-cache", "NUMBA_CACHE_DIR"])
def test_kernels_compile_and_cache_from_a_read_only_directory(tmp_path, cache_dir):
    """A read-only site-packages: numba cannot write __pycache__ beside the module, so it caches
    in the user's cache directory (~/.cache/numba, or $XDG_CACHE_HOME/numba), or in
    NUMBA_CACHE_DIR when that is set; the kernels run either way."""
    package, home = tmp_path / "site-packages", tmp_path / "home"
    package.mkdir()
    home.mkdir()
    shutil.copy(SRC / "stats" / "logit_kernels.py", package / "logit_kernels.py")
    package.chmod(0o555)
    env = {"HOME": str(home)}
    if os.environ.get("XDG_CACHE_HOME"):
        env["XDG_CACHE_HOME"] = str(home / ".cache")
    target = home / ".cache" / "numba"
    if cache_dir:
        target = tmp_path / "numba-cache"
        env["NUMBA_CACHE_DIR"] = str(target)
    elif "NUMBA_CACHE_DIR" in os.environ:
        env["NUMBA_CACHE_DIR"] = ""
    prefix = read_only_prefix()
    try:
        for _ in range(2):  # compile and save, then load from the cache
            result = run_python(KERNEL_CALL.format(where=str(package)), env=env, prefix=prefix)
            assert result.returncode == 0, result.stderr
        assert not (package / "__pycache__").exists()
        assert list(target.rglob("logit_kernels.weighted_rows*.nbi")), list(tmp_path.rglob("*"))
    finally:
        package.chmod(0o755)
