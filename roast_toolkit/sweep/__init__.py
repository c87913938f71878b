"""Sweeps: a TOML grid of kernel or theory parameters run point by point, serially or on Dask.

``run_sweep(spec, scheduler=..., out=...)`` validates every point of the spec, skips the points already
in ``out``, runs the others (in this process, on a ``LocalCluster`` or on a running Dask scheduler) and
writes one tidy table: a row per point with its parameters, every output field, the package version and
the seconds it took. ``replay_sharded(trace, hierarchy, scheduler=..., groups=N)`` replays one on-disk
trace with the cache sets split into N independent groups, one per Dask worker, with exactly the counts
of a single-process replay. See ``docs/sweeps.md``.
"""

from ._dask import parse_scheduler
from ._params import COMMANDS, params_of
from ._run import SweepResult, run_sweep
from ._sharded import ShardedReplay, replay_sharded
from ._spec import SweepSpec, load_spec
from ._table import read_table
from .errors import SweepError

__all__ = ["COMMANDS", "ShardedReplay", "SweepError", "SweepResult", "SweepSpec", "load_spec", "params_of",
           "parse_scheduler", "read_table", "replay_sharded", "run_sweep"]
