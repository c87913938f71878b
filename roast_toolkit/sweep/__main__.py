"""``python -m roast_toolkit.sweep SPEC --out FILE``: the sweep command line on its own."""

import sys

from ._cli import main

sys.exit(main(prog="python -m roast_toolkit.sweep"))
