"""Where points run: in this process (``synchronous``), on a local Dask cluster (``local:N``), or on a
running Dask scheduler (``tcp://host:port``).

:func:`open_scheduler` checks the scheduler text and connects; its ``run(fn, tasks)`` yields
``(index, result)`` pairs as tasks finish, in any order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import SweepError

_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://\S+$")


@dataclass(frozen=True)
class Scheduler:
    """A parsed ``scheduler`` argument: ``kind`` is ``synchronous``, ``local`` or ``address``."""

    kind: str
    workers: int | None = None
    address: str | None = None
    client: object = None

    @property
    def text(self) -> str:
        if self.kind == "local":
            return f"local:{self.workers}"
        return self.address or self.kind


def parse_scheduler(scheduler) -> Scheduler:
    """Check ``scheduler``: ``"synchronous"``, ``"local"`` / ``"local:N"``, an address, or a Dask Client."""
    distributed = sys.modules.get("distributed")
    if distributed is not None and isinstance(scheduler, distributed.Client):
        return Scheduler("client", address=str(scheduler.scheduler.address), client=scheduler)
    if not isinstance(scheduler, str):
        raise SweepError(f"scheduler={scheduler!r} must be 'synchronous', 'local:N' or tcp://host:port")
    s = scheduler.strip()
    if s == "synchronous":
        return Scheduler("synchronous")
    if s == "local" or s.startswith("local:"):
        n = s[len("local:"):] if s != "local" else str(os.cpu_count() or 1)
        if not n.isdigit() or int(n) < 1:
            raise SweepError(f"scheduler={scheduler!r}: N in local:N must be an integer >= 1")
        return Scheduler("local", workers=int(n))
    if _ADDRESS.match(s):
        return Scheduler("address", address=s)
    raise SweepError(f"scheduler={scheduler!r} is not allowed: use 'synchronous', 'local', 'local:N' "
                     "or a scheduler address such as tcp://host:8786")


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise SweepError("scheduler local:N or an address needs dask and distributed "
                         "(pip install 'roast-toolkit[sweep]'), or use scheduler='synchronous'") from None
    return distributed


def _serial(fn: Callable, tasks: list[tuple]) -> Iterator[tuple[int, object]]:
    for i, args in enumerate(tasks):
        yield i, fn(*args)


def _on_dask(client, fn: Callable, tasks: list[tuple]) -> Iterator[tuple[int, object]]:
    distributed = _import_distributed()
    futures = {client.submit(fn, *args, pure=False): i for i, args in enumerate(tasks)}
    try:
        for fut in distributed.as_completed(list(futures)):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. the worker cannot unpickle the task
                res = exc
            fut.release()
            yield i, res
    finally:
        client.cancel([f for f in futures if not f.done()])


@contextlib.contextmanager
def open_scheduler(sched: Scheduler, *, connect_timeout: float = 10.0):
    """Connect (or start a LocalCluster) and yield ``run(fn, tasks)``; close what was opened on exit.

    Raises
    ------
    SweepError
        When dask/distributed are missing or the scheduler cannot be reached within ``connect_timeout``.
    """
    if sched.kind == "synchronous":
        yield _serial
        return
    if sched.kind == "client":
        yield lambda fn, tasks: _on_dask(sched.client, fn, tasks)
        return
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        if sched.kind == "local":
            try:
                cluster = distributed.LocalCluster(n_workers=sched.workers, threads_per_worker=1,
                                                   processes=True, dashboard_address=None,
                                                   silence_logs=logging.ERROR)
            except Exception as exc:  # noqa: BLE001 - e.g. a worker process that could not start
                raise SweepError(
                    f"scheduler='local:{sched.workers}': the LocalCluster did not start ({exc}); a script "
                    "that starts one must run its code under if __name__ == '__main__':") from exc
            stack.enter_context(cluster)
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = distributed.Client(sched.address, timeout=connect_timeout)
            except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, comm errors
                raise SweepError(f"scheduler={sched.address!r} is unreachable ({type(exc).__name__}: {exc})"
                                 ) from None
            stack.enter_context(client)
        yield lambda fn, tasks: _on_dask(client, fn, tasks)
