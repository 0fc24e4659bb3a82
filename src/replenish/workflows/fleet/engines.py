"""Engines: run :class:`~replenish.workflows.fleet.task.SeriesTask` s and yield rows as series finish.

Each engine is a generator of ``(task, row, recorded)``: ``recorded`` is
``False`` when the worker died (the row then only carries the error; the
series is not journaled and a rerun retries it).  ``serial`` runs in this
process; ``local`` in a :class:`~concurrent.futures.ProcessPoolExecutor`
(``spawn``); ``ray`` as Ray tasks on a local instance it starts (loopback,
dashboard and usage statistics off) or on the cluster at ``address``.  The
parallel engines keep at most ``4 × workers`` series queued.

A ``local`` worker ends with its driver, even one killed with SIGKILL: it asks
the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG`` on Linux) and a
watchdog thread checks the parent every half second elsewhere (and covers a
parent that died before the request); with the workers gone, the
multiprocessing resource tracker ends too (its pipe closes).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from replenish.core.validate import SpecError
from replenish.workflows.fleet.task import SeriesTask, crashed_row, empty_row, run_series

#: Engines of :func:`run_fleet`.
ENGINES = ("serial", "local", "ray")

#: What an engine yields: ``(task, row, recorded)`` as series finish.
EngineIter = Generator[tuple[SeriesTask, dict[str, Any], bool], None, None]


def _engine_serial(tasks: Sequence[SeriesTask], workers: int, address: str | None) -> EngineIter:
    for t in tasks:
        yield t, run_series(t), True


def _refill(pending: dict[Any, SeriesTask], todo: Iterator[SeriesTask], window: int,
            submit: Callable[[SeriesTask], Any]) -> None:
    """Submit tasks from ``todo`` until ``window`` are pending (a huge fleet is not
    submitted at once)."""
    while len(pending) < window:
        t = next(todo, None)
        if t is None:
            return
        pending[submit(t)] = t


#: Seconds between two checks of a ``local`` worker's watchdog.
WATCHDOG_SECONDS = 0.5


def _end_with_parent(parent: int) -> None:
    """Initializer of a ``local`` worker: end when the driver ``parent`` ends."""
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, 9, 0, 0, 0)  # SIGKILL

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(WATCHDOG_SECONDS)
        os._exit(1)  # the driver is gone: nobody reads the result

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="replenish-parent-watchdog", daemon=True).start()


def _engine_local(tasks: Sequence[SeriesTask], workers: int, address: str | None) -> EngineIter:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_end_with_parent, initargs=(os.getpid(),))
    pending: dict[Any, SeriesTask] = {}
    todo = iter(tasks)
    window = 4 * workers
    try:
        while True:
            _refill(pending, todo, window, lambda t: ex.submit(run_series, t))
            if not pending:
                break
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for f in done:
                t = pending.pop(f)
                try:
                    yield t, f.result(), True
                except Exception as exc:  # the worker died (BrokenProcessPool, ...): not recorded
                    yield t, crashed_row(t, exc), False
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _engine_ray(tasks: Sequence[SeriesTask], workers: int, address: str | None) -> EngineIter:
    try:
        import ray
    except ImportError:
        raise SpecError("--engine", "ray", "Ray is not installed (pip install 'replenish[ray]')") from None
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports leave the machine
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:
            # a series killed by Ray's memory monitor is retried once, not forever (Ray's default)
            ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, configure_logging=False,
                     object_store_memory=256 * 1024 * 1024, _system_config={"task_oom_retries": 1})
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", workers)) if address else workers
        remote = ray.remote(num_cpus=1, max_retries=1)(run_series)
        oom = getattr(ray.exceptions, "OutOfMemoryError", ())
        pending: dict[Any, SeriesTask] = {}
        todo = iter(tasks)
        window = 4 * max(cpus, 1)
        try:
            while True:
                _refill(pending, todo, window, remote.remote)
                if not pending:
                    break
                # a timeout keeps the driver responsive to Ctrl-C
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    t = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except oom:  # the series itself needs more memory than the node has: recorded
                        row = empty_row(t)
                        row["error"] = "out of memory: Ray's memory monitor killed the worker (twice)"
                        yield t, row, True
                    except Exception as exc:  # the worker or node died: not recorded
                        yield t, crashed_row(t, exc), False
                    else:
                        yield t, row, True
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


#: The engine of each name of :data:`ENGINES`: ``f(tasks, workers, address)``.
ENGINE_FUNCTIONS: dict[str, Callable[[Sequence[SeriesTask], int, str | None], EngineIter]] = {
    "serial": _engine_serial, "local": _engine_local, "ray": _engine_ray}
