"""``--help`` of each subcommand lists only the options it uses (issue 19), grouped by model or
mode; an option a subcommand never reads is left out of its help, and typed, refused with the
reason (exit code 2)."""
import argparse

import pytest

from chainrule.cli import applicability, build_parser, main

NEVER_USED = {  # subcommand -> options it never reads
    "compare-optimizers": ["--optimizer", "--device"],
    "diagnose": ["--optimizer", "--lr", "--epochs", "--batch-size"],
}


def _help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command, options", NEVER_USED.items())
def test_options_a_subcommand_never_reads_are_not_in_its_help(command, options, capsys):
    out = _help(command, capsys)
    for option in options:
        assert f"{option} " not in out and f"[{option} " not in out and f"{option}\n" not in out, option


def _rules(command):
    if command == "compute":
        modes = ("list", "preset", "rule", "data")
        return [applicability.compute_rules(mode) for mode in modes]
    return [{"compare-optimizers": applicability.COMPARE_RULES, "diagnose": applicability.DIAGNOSE_RULES,
             "landscape": applicability.LANDSCAPE_RULES, "fit": applicability.FIT_RULES}[command]]


@pytest.mark.parametrize("command", ["fit", "compare-optimizers", "diagnose", "landscape", "compute"])
def test_every_option_in_the_help_is_used_somewhere(command):
    parser = build_parser().subcommands[command]
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        never = [rules.get(action.dest, (None, "used"))[1] is None for rules in _rules(command)]
        assert not all(never), f"{command} --help lists {action.option_strings}, which it never reads"


def test_compute_help_groups_the_options_by_mode(capsys):
    out = _help("compute", capsys)
    assert "mlp (compute DATA: an MLP counted and timed here):" in out
    assert out.index("estimate:") < out.index("  --list-accelerators  ")


@pytest.mark.parametrize("command, option", [("compare-optimizers", "--optimizer"), ("diagnose", "--epochs")])
def test_a_hidden_option_typed_is_refused_with_the_reason(command, option, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "grunfeld", "--target", "invest", "--model", "ols", option, "3" if option == "--epochs"
              else "sgd"])
    assert exc.value.code == 2 and f"{option} does not apply to" in capsys.readouterr().err
