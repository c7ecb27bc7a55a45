"""mkdocs hook: the guide's formulas become MathML at build time, so pages render math with
no script and no network access (Chromium, Firefox and Safari draw MathML Core natively).

``pymdownx.arithmatex`` (``generic: true``) finds the formulas in the Markdown, ``\\( … \\)``
inline and ``$$ … $$`` (or ``\\[ … \\]``) as a block, and leaves them as
``<span class="arithmatex">\\( … \\)</span>`` and ``<div class="arithmatex">\\[ … \\]</div>``;
this hook replaces each with the ``<math>`` element that ``latex2mathml`` converts its LaTeX
to (``display="block"`` for blocks). A formula latex2mathml cannot convert fails the build,
naming the page and the formula, so ``mkdocs build --strict`` never ships raw LaTeX.
"""
from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _mathml(latex: str, display: str, page) -> str:
    source = html.unescape(latex).strip()
    try:
        markup = convert(source, display=display)
    except Exception as error:  # noqa: BLE001 - any failure of the converter names the formula
        raise ValueError(f"{page.file.src_path}: latex2mathml cannot convert {source!r}: {error}") from error
    if "<mi>&</mi>" in markup or "<mi>\\</mi>" in markup:  # an environment latex2mathml does not know
        raise ValueError(f"{page.file.src_path}: latex2mathml cannot lay out {source!r} (alignment with & or "
                         f"line breaks with \\\\ are not supported): write one formula per $$ block")
    label = html.escape(source, quote=True)
    markup = markup.replace("<math ", f'<math alttext="{label}" ', 1)
    if display == "block":
        return f'<div class="math-block">{markup}</div>'
    return markup


def on_page_content(content: str, page, config, files) -> str:
    content = _BLOCK.sub(lambda m: _mathml(m.group(1), "block", page), content)
    return _INLINE.sub(lambda m: _mathml(m.group(1), "inline", page), content)
