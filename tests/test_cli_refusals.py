"""An option that the chosen model or subcommand does not use is refused (exit code 2), naming
the option and the model, instead of being silently ignored; the options that do apply pass."""
import numpy as np
import pandas as pd
import pytest

from chainrule.cli import main, parse_arguments


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=60), "x2": rng.normal(size=60)})
    frame["y"] = frame.x1 + rng.normal(size=60)
    frame["b"] = (frame.y > 0).astype(int)
    path = tmp_path_factory.mktemp("refusals") / "data.csv"
    frame.to_csv(path, index=False)
    return path


FIT = ["fit", "{csv}", "--target", "y"]
FIT_B = ["fit", "{csv}", "--target", "b"]
REFUSED = [
    (FIT + ["--model", "ols", "--margeff"], "--margeff", "--model ols"),
    (FIT + ["--model", "ols", "--hidden", "8"], "--hidden", "--model ols"),
    (FIT + ["--model", "ols", "--criterion", "aic"], "--criterion", "--model ols"),
    (FIT + ["--model", "ols", "--epochs", "3"], "--epochs", "--model ols"),
    (FIT + ["--model", "ols", "--optimizer", "sgd"], "--optimizer", "--model ols"),
    (FIT + ["--model", "ols", "--alpha", "1"], "--alpha", "--model ols"),
    (FIT + ["--model", "ols", "--device", "cpu"], "--device", "--model ols"),
    (FIT + ["--model", "ridge", "--cov-type", "HC1"], "--cov-type", "--model ridge"),
    (FIT + ["--model", "ridge", "--alpha", "1", "--cv", "3"], "--cv", "--model ridge"),
    (FIT + ["--model", "ridge", "--l1-ratio", "0.5"], "--l1-ratio", "--model ridge"),
    (FIT + ["--model", "lasso", "--n-components", "2"], "--n-components", "--model lasso"),
    (FIT + ["--model", "pcr", "--n-components", "2", "--cv", "3"], "--cv", "--model pcr"),
    (FIT + ["--model", "pcr", "--no-intercept"], "--no-intercept", "--model pcr"),
    (FIT + ["--model", "stepwise", "--cv", "3"], "--cv", "--model stepwise"),
    (FIT + ["--model", "mlp", "--cov-type", "HC1"], "--cov-type", "--model mlp"),
    (FIT + ["--model", "mlp", "--cluster", "x1"], "--cluster", "--model mlp"),
    (FIT_B + ["--model", "logit", "--C", "0.5"], "--C", "--model logit"),
    (FIT_B + ["--model", "logit", "--cv", "3"], "--cv", "--model logit"),
    (FIT_B + ["--model", "logit", "--penalty", "l1", "--margeff"], "--margeff", "--model logit --penalty l1"),
    (FIT_B + ["--model", "logit", "--penalty", "l2", "--solver", "gd"], "--solver", "--model logit --penalty l2"),
    (FIT_B + ["--model", "logit", "--penalty", "l2", "--l1-ratio", "0.5"], "--l1-ratio", "--penalty l2"),
    (FIT_B + ["--model", "mnlogit", "--penalty", "l2"], "--penalty", "--model mnlogit"),
    (FIT_B + ["--model", "logit", "--penalty", "l2", "--chunksize", "20"], "--penalty", "--model logit"),
    (FIT + ["--model", "ols", "--standardize"], "--standardize/--no-standardize", "--model ols"),
    (FIT + ["--model", "ols", "--solver", "qr", "--no-standardize"], "--standardize/--no-standardize", "--model ols"),
    (FIT + ["--model", "stepwise", "--standardize"], "--standardize/--no-standardize", "--model stepwise"),
    (FIT_B + ["--model", "logit", "--standardize"], "--standardize/--no-standardize", "--model logit"),
    (FIT_B + ["--model", "mnlogit", "--no-standardize"], "--standardize/--no-standardize", "--model mnlogit"),
    (["compare-optimizers", "{csv}", "--target", "y", "--model", "ols", "--optimizer", "sgd"],
     "--optimizer", "compare-optimizers"),
    (["compare-optimizers", "{csv}", "--target", "y", "--model", "ols", "--hidden", "8"],
     "--hidden", "compare-optimizers"),
    (["diagnose", "{csv}", "--target", "y", "--model", "ols", "--hidden", "8"], "--hidden", "diagnose --model ols"),
    (["diagnose", "{csv}", "--target", "y", "--model", "mlp", "--epochs", "3"], "--epochs", "diagnose --model mlp"),
    (["diagnose", "{csv}", "--target", "y", "--model", "mlp", "--fraction", "0.1"], "--fraction", "diagnose"),
    (["landscape", "{csv}", "--target", "y", "--depths", "8"], "--depths", "landscape"),
    (["landscape", "--study", "--hidden", "8"], "--hidden", "landscape --study"),
    (["compute", "--preset", "gpt3", "--seed", "4"], "--seed", "compute --preset gpt3"),
    (["compute", "--list-accelerators", "--count", "4"], "--count", "compute --list-accelerators"),
    (["compute", "--list-accelerators", "--precision", "bf16"], "--precision", "compute --list-accelerators"),
    (["compute", "--params", "1e9", "--tokens", "2e10", "--epochs", "3"], "--epochs", "compute --params"),
    (["compute", "--params", "1e9", "--tokens", "2e10", "--hidden", "8"], "--hidden", "compute --params"),
]


@pytest.mark.parametrize("argv, flag, where", REFUSED, ids=[" ".join(case[0][4:] or case[0]) for case in REFUSED])
def test_an_option_that_does_not_apply_is_refused(argv, flag, where, csv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([part.format(csv=csv) for part in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {flag} does not apply to " in err and where in err, err


ACCEPTED = [
    FIT + ["--model", "ols", "--cov-type", "HC1", "--no-intercept"],
    FIT + ["--model", "ridge", "--cv", "3"],
    FIT + ["--model", "elasticnet", "--alpha", "0.1", "--l1-ratio", "0.2"],
    FIT + ["--model", "pcr", "--cv", "3"],
    FIT + ["--model", "stepwise", "--criterion", "cv", "--cv", "3"],
    FIT + ["--model", "mlp", "--hidden", "8", "--epochs", "2", "--optimizer", "sgd", "--device", "cpu"],
    FIT_B + ["--model", "logit", "--margeff", "--solver", "newton"],
    FIT + ["--model", "ridge", "--no-standardize"],
    FIT + ["--model", "pcr", "--standardize"],
    FIT + ["--model", "ols", "--solver", "gd", "--no-standardize"],
    FIT + ["--model", "mlp", "--no-standardize"],
    FIT_B + ["--model", "logit", "--penalty", "l2", "--standardize"],
    FIT_B + ["--model", "logit", "--penalty", "elasticnet", "--l1-ratio", "0.5", "--cv", "3"],
    ["compare-optimizers", "{csv}", "--target", "y", "--model", "mlp", "--hidden", "8", "--epochs", "2"],
    ["diagnose", "{csv}", "--target", "y", "--model", "mlp", "--hidden", "8", "--inits", "xavier"],
    ["diagnose", "{csv}", "--target", "y", "--model", "logit", "--fraction", "0.1", "--max-iter", "10"],
    ["landscape", "{csv}", "--target", "y", "--hidden", "8", "--optimizer", "sgd", "--epochs", "2"],
    ["landscape", "--study", "--depths", "8,14", "--widths", "4,8,16", "--epochs", "1"],
    ["compute", "--preset", "gpt3"],
    ["compute", "--preset", "gpt3", "--accelerator", "H100-SXM", "--count", "2048", "--precision", "fp8"],
    ["compute", "--list-accelerators", "--prices", "prices.toml"],
    ["compute", "--params", "1e9", "--tokens", "2e10", "--accelerator", "H100-SXM", "--count", "4"],
]


@pytest.mark.parametrize("argv", ACCEPTED, ids=[" ".join(case[4:] or case) for case in ACCEPTED])
def test_options_that_apply_are_accepted(argv, csv):
    args = parse_arguments([part.format(csv=csv) for part in argv])
    assert args.command == argv[0]


@pytest.mark.parametrize("command", ["compare-optimizers", "diagnose", "compute", "landscape"])
@pytest.mark.parametrize("option", ["--cov-type", "--alpha", "--cv", "--margeff", "--penalty"])
def test_only_fit_takes_the_statistical_options(command, option, csv, capsys):
    with pytest.raises(SystemExit) as exc:
        model = ["--model", "ols"] if command in ("compare-optimizers", "diagnose") else []
        main([command, str(csv), "--target", "y", *model, option, "1"])
    assert exc.value.code == 2 and f"unrecognized arguments: {option}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert option not in capsys.readouterr().out


def test_fit_help_groups_the_options_by_model(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = capsys.readouterr().out
    for group, option in [("ols:", "--cov-type"), ("logit, mnlogit:", "--margeff"),
                          ("ridge, lasso, elasticnet:", "--alpha"), ("mlp:", "--hidden"),
                          ("training (networks):", "--optimizer")]:
        assert out.index(group) < out.index(f"  {option}"), group


def test_defaults_are_not_given_options(csv):
    args = parse_arguments(["fit", str(csv), "--target", "y", "--model", "ols"])
    assert args.given_options_ == {"target", "model"}
