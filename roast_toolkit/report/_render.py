"""Render the sections' blocks as ``index.md`` and a self-contained ``index.html`` (PNGs inlined)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from ._doc import Bullets, Heading, Image, Para, SectionResult, Table

_BADGE = {"passed": "passed", "failed": "FAILED", "error": "ERROR"}


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, intro: list, sections: list[SectionResult]) -> str:
    """The report as markdown; figures are relative links to the PNGs in the same folder.

    Parameters
    ----------
    title : str
        Top heading.
    intro : list
        Blocks shown before the sections (summary).
    sections : list of SectionResult

    Returns
    -------
    str
    """
    out = [f"# {title}", ""]
    out += _md_blocks(intro)
    for i, s in enumerate(sections, 1):
        out += [f"## {i}. {s.title} [{_BADGE[s.status]}]", ""]
        if s.message:
            out += [f"**{_BADGE[s.status]}:** {s.message}", ""]
        out += _md_blocks(s.blocks)
    return "\n".join(out).rstrip() + "\n"


def _md_blocks(blocks) -> list[str]:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Bullets):
            out += [f"* {item}" for item in b.items] + [""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, Image):
            out += [f"![{b.caption}]({b.filename})", "", f"*{b.caption}*", ""]
        else:  # pragma: no cover - a programming error
            raise TypeError(f"unknown block {b!r}")
    return out


def _inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.85em}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee} figure{margin:1em 0} figcaption{font-style:italic;color:#555}
.passed{color:#176f2c}.failed,.error{color:#b00020;font-weight:bold}
code{background:#f5f5f5;padding:0 3px}
"""


def render_html(title: str, intro: list, sections: list[SectionResult], folder: Path) -> str:
    """The report as one HTML page with every PNG embedded as base64 (no external files needed).

    Parameters
    ----------
    title : str
    intro : list
        Blocks shown before the sections.
    sections : list of SectionResult
    folder : pathlib.Path
        The report folder holding the PNGs.

    Returns
    -------
    str
    """
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    out += _html_blocks(intro, folder)
    for i, s in enumerate(sections, 1):
        out.append(f"<h2 id='{s.key}'>{i}. {html.escape(s.title)} "
                   f"<span class='{s.status}'>[{_BADGE[s.status]}]</span></h2>")
        if s.message:
            out.append(f"<p class='{s.status}'>{_BADGE[s.status]}: {_inline(s.message)}</p>")
        out += _html_blocks(s.blocks, folder)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_blocks(blocks, folder: Path) -> list[str]:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in b.header)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>" for row in b.rows]
            out.append("</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode((folder / b.filename).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{_inline(b.caption)} (<a href='{html.escape(b.filename)}'>"
                       f"{html.escape(b.filename)}</a>)</figcaption></figure>")
        else:  # pragma: no cover - a programming error
            raise TypeError(f"unknown block {b!r}")
    return out


__all__ = ["render_html", "render_markdown"]
