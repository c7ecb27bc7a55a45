"""The report's style sheet, inlined in every report.html (no file, no network).

REPORT_CSS  the page: a 1,100 px column, booktabs tables (rules above, below and under the
            heading; no vertical lines) in tabular lining figures, numbers right-aligned,
            summaries laid out as a statistics package prints them, the run's details
            collapsed under a rule after the results, wrapped (never clipped) preformatted text
PAD_CSS     decimal alignment: the padding classes of :mod:`chainrule.report.html`'s tables
"""
from __future__ import annotations

__all__ = ["REPORT_CSS", "PAD_CSS", "FIGURE_SPACE", "PUNCTUATION_SPACE", "MAX_PAD"]

FIGURE_SPACE = "\\2007"  # CSS escapes: as wide as a digit in tabular figures
PUNCTUATION_SPACE = "\\2008"  # and as wide as a period
MAX_PAD = 16
PAD_CSS = "".join(
    f'td.p{n}::after{{content:"{FIGURE_SPACE * n}"}}td.q{n}::after{{content:"{PUNCTUATION_SPACE}'
    f'{FIGURE_SPACE * (n - 1)}"}}' for n in range(1, MAX_PAD + 1))
"""Decimal alignment: a right-aligned number gets, after it (``::after``, so copying the
number copies no padding), the figure spaces its fraction lacks (class ``pN``) or a
punctuation space for its missing point and the figure spaces after it (``qN``)."""

REPORT_CSS = """
:root { color-scheme: light; --rule: #1f2328; --line: #d0d7de; --muted: #57606a; --shade: #f6f8fa; }
body { margin: 0; background: #ffffff; color: #1f2328; font: 15px/1.55 "Source Sans 3", "Segoe UI", system-ui,
  -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif; font-kerning: normal; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 1.75em; font-weight: 650; margin: 0.2em 0 0.6em; letter-spacing: -0.01em; }
h2 { font-size: 1.25em; font-weight: 650; margin: 0 0 0.6em; padding-bottom: 0.2em;
  border-bottom: 1px solid var(--line); }
section { margin: 0 0 2.2em; }
nav { background: var(--shade); border: 1px solid var(--line); border-radius: 6px; padding: 10px 20px;
  margin-bottom: 2em; font-size: 0.95em; }
nav h2 { border: 0; margin: 0 0 0.3em; font-size: 1.05em; }
nav ol { margin: 0; padding-left: 1.4em; columns: 2; }
nav li.detail { color: var(--muted); }
nav li.detail a { color: var(--muted); }
a { color: #0550ae; }
table { border-collapse: collapse; margin: 0.4em 0; font-variant-numeric: tabular-nums lining-nums;
  border-top: 1.5px solid var(--rule); border-bottom: 1.5px solid var(--rule); }
th, td { border: 0; padding: 3px 12px; vertical-align: top; text-align: left; }
thead th { border-bottom: 1px solid var(--rule); font-weight: 600; vertical-align: bottom; }
tbody tr + tr > * { border-top: 1px solid #eaeef2; }
th[scope="row"] { font-weight: 600; white-space: nowrap; }
td.num { text-align: right; white-space: pre; }
th.num { text-align: right; }
td table { margin: 0; font-size: 0.95em; border-top-width: 1px; border-bottom-width: 1px; }
.table { overflow-x: auto; }
table.kv th[scope="row"] { color: #24292f; }
.summary { overflow-x: auto; display: flex; flex-wrap: wrap; align-items: flex-start; column-gap: 2.5em; }
.summary > * { flex: 0 0 auto; }
.summary > p, .summary > pre, .summary > div { flex-basis: 100%; }
.summary table { margin: 0 0 1em; }
.summary th { text-align: left; font-weight: 600; white-space: nowrap; }
.summary tr:first-child:not(:has(td)) > th { border-bottom: 1px solid var(--rule); }  /* a heading row */
.summary tr:first-child:not(:has(td)) > th:not(:first-child) { text-align: right; }
.summary p { color: var(--muted); font-size: 0.93em; margin: 0 0 0.4em; }
.summary table.chainrule-summary:has(tr:nth-child(9)) > tbody { display: grid; grid-template-columns: repeat(2,
  max-content minmax(7em, max-content)); }  /* a long model header: two label/value pairs a row */
.summary table.chainrule-summary:has(tr:nth-child(9)) tr { display: contents; }
.summary table.chainrule-summary:has(tr:nth-child(9)) td { padding-right: 2.2em; }
.summary td { text-align: right; white-space: nowrap; }
.summary caption { font-weight: 650; text-align: left; padding-bottom: 0.3em; caption-side: top; }
pre, code { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
pre { background: var(--shade); border: 1px solid var(--line); border-radius: 6px; padding: 10px; font-size: 13px;
  line-height: 1.4; white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: 0.4em 0 0.8em; }
img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
.caption { color: var(--muted); font-size: 0.93em; margin: 0.3em 0 0; }
.empty { color: var(--muted); }
.details { margin-top: 2.5em; border-top: 2px solid var(--line); padding-top: 0.6em; }
.details-label { color: var(--muted); font-size: 0.93em; margin: 0 0 0.8em; }
section.detail { margin: 0 0 0.6em; }
details > summary { cursor: pointer; list-style-position: outside; margin-left: 1.1em; }
details > summary h2 { display: inline; border: 0; font-size: 1.1em; padding: 0; }
details[open] > summary { margin-bottom: 0.6em; }
footer { margin-top: 3em; padding-top: 0.8em; border-top: 1px solid var(--line); color: var(--muted);
  font-size: 0.9em; }
@media print { nav { display: none; } }
"""
