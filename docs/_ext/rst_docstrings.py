"""A griffe extension: render chainrule's reStructuredText-flavoured docstrings as Markdown.

The library's docstrings are written for readers of the source and of ``help()``: Google-style
sections (which mkdocstrings parses) around reStructuredText habits that Markdown does not
know. Before mkdocstrings renders a docstring, this extension rewrites, outside code:

* ``:func:`name``` and the other Sphinx roles → ```name``` (inline code);
* a paragraph ending in ``::`` followed by an indented block → the paragraph ending in ``:``
  and the block as a fenced code block (formulas and algorithm boxes keep their layout);
* reStructuredText simple tables (``====  ====`` borders) → fenced text blocks;
* ``>>>`` doctest lines → fenced ``pycon`` blocks;
* in Args/Attributes/Raises sections, a line that continues an item at the items' own
  indent is indented further, as the Google-style parser expects;
* a one-letter name followed by ``*`` (f*, x*: the minimum and the minimizer) and every
  underscore of the prose (θ_{t-1}) → escaped, so Markdown does not read them as emphasis.

The docstrings themselves are left unchanged in the source.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc|ref|term|math):`~?([^`]+)`")
_TABLE_BORDER = re.compile(r"^\s*=+(?: +=+)+\s*$")
_STAR_AFTER_LETTER = re.compile(r"(?<![\w*\\])([A-Za-zθμ])\*(?![\w*])")
_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Attributes|Keyword Args|Raises):\s*$")
_ITEM = re.compile(r"^\s*\**[\w.]+(?:\s*,\s*\**[\w.]+)*\s*(?:\([^)]*\))?\s*:(?:\s|$)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _literal_block(lines, start, base):
    """The indented block after a ``::`` line: (its lines, the index after it)."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    block = []
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > base):
        block.append(lines[index])
        index += 1
    while block and not block[-1].strip():
        block.pop()
        index -= 1
    return block, index


def _fence(block, indent, language="text"):
    pad = " " * indent
    width = min(_indent(line) for line in block if line.strip())
    return [f"{pad}```{language}", *[pad + line[width:] if line.strip() else "" for line in block], f"{pad}```"]


def _prose(line: str) -> str:
    """Escape the stars and underscores of formulas (θ_{t-1}, f*) outside code spans; an
    item's ``name:`` is left alone for the section parser."""
    item = _ITEM.match(line)
    head, line = (line[:item.end()], line[item.end():]) if item else ("", line)
    parts = line.split("`")
    for position in range(0, len(parts), 2):  # outside inline code spans
        text = _STAR_AFTER_LETTER.sub(r"\1\\*", parts[position])
        parts[position] = re.sub(r"(?<!\\)_", r"\\_", text)
    return head + "`".join(parts)


def _join_section_continuations(lines):
    """In an Args/Attributes/Raises section, a line at the items' indent that does not start
    ``name:`` continues the previous item: indent it so the Google-style parser agrees."""
    out, item_indent = [], None
    for line in lines:
        header = _SECTION.match(line)
        if header:
            item_indent = -1
        elif item_indent is not None and line.strip():
            if item_indent == -1:
                item_indent = _indent(line)
            if _indent(line) < item_indent:
                item_indent = None
            elif _indent(line) == item_indent and not _ITEM.match(line):
                line = " " * 4 + line
        out.append(line)
    return out


def convert(text: str) -> str:
    """The Markdown form of one docstring (see the module docstring)."""
    text = re.sub(r"``([^`]+)``", r"`\1`", _ROLE.sub(r"`\1`", text))  # one backtick per code span
    lines = _join_section_continuations(text.splitlines())
    out, index = [], 0
    while index < len(lines):
        line = lines[index]
        stripped = line.rstrip()
        if stripped.endswith("::") and not stripped.lstrip().startswith(">>>"):
            block, after = _literal_block(lines, index + 1, _indent(line))
            if block:
                head = stripped[:-2].rstrip()
                if head.strip():
                    out.append(_prose(head if head.endswith((":", ".")) else head + ":"))
                out.append("")
                out.extend(_fence(block, _indent(line)))
                out.append("")
                index = after
                continue
        if _TABLE_BORDER.match(line):
            table, index = [line], index + 1
            borders = 1
            while index < len(lines) and borders < 3:
                table.append(lines[index])
                borders += bool(_TABLE_BORDER.match(lines[index]))
                index += 1
            out.extend(["", *_fence(table, _indent(line)), ""])
            continue
        if line.lstrip().startswith(">>>"):
            block = []
            while index < len(lines) and lines[index].strip():
                block.append(lines[index])
                index += 1
            out.extend(["", *_fence(block, _indent(line), "pycon"), ""])
            continue
        out.append(_prose(line))
        index += 1
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrite every docstring with :func:`convert` as griffe loads it."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
