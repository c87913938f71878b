"""The two command lines, ``roast-theory`` and ``cachesim``: thin layers that parse options, call one
library function and print its result (text, or one JSON object with ``--json``).

Each subcommand is one module here (``kernel``, ``explain``, ``replay``, ``misscurve``, ``measure``,
``report``; the theory commands in :mod:`.theory_cmd`); :mod:`.cachesim_cmd` and :mod:`.theory_cmd` hold
the subcommand tables and the entry points.
"""

from __future__ import annotations


def cachesim_main(argv=None) -> int:
    """Entry point of ``cachesim``."""
    from .cachesim_cmd import main

    return main(argv)


def theory_main(argv=None) -> int:
    """Entry point of ``roast-theory``."""
    from .theory_cmd import main

    return main(argv)


__all__ = ["cachesim_main", "theory_main"]
