"""Where the runs of the experiment grid execute: in this process, in local worker processes
(joblib's loky backend) or on a Dask cluster (``distributed``, given its scheduler's address).

Every run is one task, and :func:`dispatch` yields each result as soon as it arrives, in any
order, so the caller (the driver) journals it at once: killing the driver loses only the runs in
flight, and the journal says what is left to do. Results computed by other code or other numeric
libraries than the driver's (a Dask worker set up from another version) are refused.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

from .journal import software_fingerprint, worker_description

SCHEDULER_TIMEOUT = 30.0
"""Seconds a Dask scheduler has to connect and answer (``--scheduler-timeout``)."""
Task = tuple[Hashable, tuple]
"""``(key, args)``: the caller's name for the run, and the arguments of the function."""


class WorkerMismatchError(ValueError):
    """A worker computed a result with other code or software than the driver's."""


def call(fn: Callable, key: Hashable, *args: Any) -> tuple[Hashable, Any, dict, str]:
    """Run ``fn(*args)`` in a worker; return the key, the result and what and where ran it."""
    return key, fn(*args), software_fingerprint(), worker_description()


def dispatch(
    fn: Callable,
    tasks: Sequence[Task],
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    scheduler_timeout: float = SCHEDULER_TIMEOUT,
) -> Iterator[tuple[Hashable, Any, str]]:
    """Yield ``(key, fn(*args), worker)`` for every task as it finishes.

    ``scheduler``: the address of a Dask scheduler (``tcp://host:8786``); its workers run the
    tasks and need the same ``dan_dice`` installed as here; it must answer Dask's handshake
    within ``scheduler_timeout`` seconds (an ``OSError`` otherwise). Otherwise ``jobs`` local
    processes (joblib, loky backend), or this process when ``jobs`` is 1. ``fn`` must be a
    module-level function (workers import it by name).
    """
    if not tasks:  # nothing to do: no cluster to reach, no process to start
        return
    if scheduler is not None:
        results = _on_dask(fn, tasks, scheduler, scheduler_timeout)
    elif jobs == 1 or len(tasks) <= 1:
        results = (call(fn, key, *args) for key, args in tasks)
    else:
        results = _on_joblib(fn, tasks, jobs)
    expected = software_fingerprint()
    try:
        for key, result, software, worker in results:
            if software != expected:
                raise WorkerMismatchError(
                    f"the worker {worker} ran other code or software ({software}) than this "
                    f"driver ({expected}): the dan_dice source changed during the run, or the "
                    "worker has another install; run the same code and libraries everywhere"
                )
            yield key, result, worker
    finally:
        results.close()  # stops the tasks not started yet


def _on_joblib(fn: Callable, tasks: Sequence[Task], jobs: int) -> Iterator[tuple]:
    """Local worker processes; joblib cancels the tasks not started when the caller stops."""
    from joblib import Parallel, delayed

    parallel = Parallel(
        n_jobs=jobs,
        backend="loky",
        return_as="generator_unordered",
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )
    yield from parallel(delayed(call)(fn, key, *args) for key, args in tasks)


def _die_with_parent(driver: int) -> None:
    """Have Linux kill this worker when the driver dies, even by SIGKILL: no orphan keeps
    training (loky's workers otherwise outlive a killed driver)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != driver:  # the driver died before the line above
            os._exit(1)


def check_scheduler(address: str, timeout: float = SCHEDULER_TIMEOUT) -> None:
    """Connect to the Dask scheduler at ``address`` and have it say what it is, all within
    ``timeout`` seconds: a ``ValueError`` for a malformed address, an ``OSError`` for anything
    that does not answer as a scheduler in time (a ``Client``'s own timeout covers the
    connection, not the handshake, so a port that accepts and never speaks would hang it)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    if not timeout > 0:
        raise ValueError(
            f"the scheduler timeout must be a positive number of seconds, got {timeout}"
        )

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    try:  # in a thread of its own: the caller's may run an event loop (Jupyter)
        with ThreadPoolExecutor(1) as thread:
            answer = thread.submit(asyncio.run, asyncio.wait_for(identity(), timeout)).result()
    except ValueError as exc:
        raise ValueError(f"invalid Dask scheduler address {address!r}: {exc}") from exc
    except OSError as exc:  # TimeoutError is one
        raise OSError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({str(exc) or 'no answer to the handshake'}); is it a Dask scheduler? "
            "--scheduler-timeout waits longer"
        ) from exc
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise OSError(f"{address} is not a Dask scheduler (it answered {answer!r:.80})")


def _on_dask(
    fn: Callable, tasks: Sequence[Task], scheduler: str, timeout: float
) -> Iterator[tuple]:
    """One Dask task per run; an argument shared by several runs (a dataset's split, the
    config) is sent to the cluster once. Closing the client (the caller stops, or dies and the
    scheduler notices) releases the runs not yet finished. The scheduler is checked first
    (:func:`check_scheduler`): no client is made for an address that would hang it."""
    from distributed import Client, as_completed

    check_scheduler(scheduler, timeout)
    try:
        client = Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except OSError as exc:  # TimeoutError is one
        raise OSError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        shared = {}
        for _, args in tasks:
            for arg in args:
                if id(arg) not in shared and _is_large(arg):
                    shared[id(arg)] = client.scatter(arg, hash=False)
        tag = uuid.uuid4().hex[:8]
        futures = [
            client.submit(
                call,
                fn,
                key,
                *(shared.get(id(arg), arg) for arg in args),
                key=f"dan-dice-run-{'-'.join(map(str, _as_tuple(key)))}-{tag}",
                pure=False,
            )
            for key, args in tasks
        ]
        try:
            for _, result in as_completed(futures, with_results=True, loop=client.loop):
                yield result
        finally:
            client.cancel(futures)


def _is_large(arg: Any) -> bool:
    return not isinstance(arg, (str, bytes, int, float, bool, type(None)))


def _as_tuple(key: Hashable) -> tuple:
    return key if isinstance(key, tuple) else (key,)
