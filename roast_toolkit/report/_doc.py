"""Building blocks of the report: document blocks, one section's result, and the context sections run in.

A section never formats markdown or HTML itself: it returns :class:`Heading`, :class:`Para`,
:class:`Table`, :class:`Image` and :class:`Bullets` blocks, which :mod:`._render` turns into both
``index.md`` and ``index.html``. Table cells are already-formatted strings (made with :func:`fmt`), so both
files show exactly the same numbers.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section (``level`` 3 or 4)."""

    text: str
    level: int = 3


@dataclass(frozen=True)
class Para:
    """A paragraph; ``**bold**`` and ```code``` are the only inline markup."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of already-formatted cells."""

    header: tuple
    rows: tuple


@dataclass(frozen=True)
class Image:
    """A PNG in the report folder (``filename`` is relative to it)."""

    filename: str
    caption: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple


STATUSES = ("passed", "failed", "error")


@dataclass
class SectionResult:
    """What one section produced.

    Attributes
    ----------
    key : str
        Short name; the section's JSON is ``<key>.json``.
    title : str
        Heading of the section.
    status : {"passed", "failed", "error"}
        ``failed``: the section ran but a check did not pass; ``error``: the section raised.
    blocks : list
        Document blocks, in order.
    data : dict
        The JSON behind the tables and figures.
    figures : list of str
        PNG files written by the section.
    message : str
        Why the section failed (empty when it passed).
    summary : str
        One line of key numbers for the report's summary table.
    seconds : float
        Wall time of the section.
    """

    key: str
    title: str
    status: str = "passed"
    blocks: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    message: str = ""
    summary: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """The section's JSON (``<key>.json`` and its entry in ``report.json``)."""
        return {"key": self.key, "title": self.title, "status": self.status, "message": self.message,
                "summary": self.summary, "seconds": self.seconds, "figures": list(self.figures),
                "data": self.data}


class Progress:
    """Progress bars on stderr (tqdm), or nothing when disabled."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def bar(self, total: int, desc: str):
        """A tqdm bar of ``total`` steps (a no-op bar when disabled)."""
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, file=sys.stderr, disable=not self.enabled, leave=True,
                    dynamic_ncols=True)


@dataclass
class Context:
    """Where and how sections run.

    Attributes
    ----------
    out : pathlib.Path
        The report folder (exists).
    quick : bool
        Smaller cases for a fast smoke run.
    progress : Progress
    measurements : pathlib.Path or None
        The recorded measurements folder (``gpu/`` and ``cpu/`` inside), None when not found.
    seed : int
        Base seed of the Monte Carlo checks.
    """

    out: Path
    quick: bool = False
    progress: Progress = field(default_factory=lambda: Progress(False))
    measurements: Path | None = None
    seed: int = 0

    def save(self, fig, name: str, caption: str, section: SectionResult) -> Image:
        """Write ``fig`` (a :class:`matplotlib.figure.Figure`) as ``name`` and return its block."""
        fig.savefig(self.out / name, dpi=110, bbox_inches="tight")
        section.figures.append(name)
        return Image(name, caption)


def fmt(value, spec: str = ".4g") -> str:
    """Format a value for a table cell (markdown and HTML show the same string).

    Parameters
    ----------
    value : float, int, bool, None or str
    spec : str
        Format spec for floats.

    Returns
    -------
    str
        ``-`` for None / NaN, ``inf`` / ``-inf``, ints as ints, ``yes`` / ``NO`` for booleans.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, spec)
    return str(value)


__all__ = ["Bullets", "Context", "Heading", "Image", "Para", "Progress", "SectionResult", "Table", "fmt"]
