"""The guide page docs/tensors.md (NumPy → PyTorch → chainrule) names only what exists.

Every ``cr.name`` (and ``cr.linalg.name``) and every ``t.method`` in the chainrule column
of its tables must resolve on :mod:`chainrule` or :class:`chainrule.Tensor`, so the page
cannot promise a function that is missing or was renamed.
"""
import re
from pathlib import Path

import pytest

import chainrule as cr

PAGE = Path(__file__).resolve().parents[1] / "docs" / "tensors.md"


def chainrule_column_names():
    names = set()
    for line in PAGE.read_text().splitlines():
        cells = line.split("|")
        if not line.startswith("|") or len(cells) < 5 or set(cells[3].strip()) <= {"-", " "}:
            continue
        column = cells[3]
        names.update(m.group(1) for m in re.finditer(r"\bcr\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", column))
        names.update("Tensor." + m.group(1) for m in re.finditer(r"`t\.([A-Za-z_]\w*)", column))
    return sorted(names)


def resolve(dotted: str):
    obj = cr
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def test_the_page_has_tables_to_check():
    assert len(chainrule_column_names()) > 50


@pytest.mark.parametrize("name", chainrule_column_names())
def test_every_chainrule_name_on_the_page_exists(name):
    assert resolve(name) is not None  # AttributeError names what is missing
