"""Checking in several processes, so a run over many targets uses every core.

The engine keeps the handshakes of one process concurrent on threads, but parsing, judging and
rendering run under one GIL: one process per core does that work in parallel. Each worker is a
fork of this process (the parsed trust store and the targets are inherited, nothing is pickled
on the way in, and what it inherits is frozen out of its collector's sight) that checks every
N-th target with its own engine, presents each report as the caller asked (a JSON line travels
back as text, cheaper than the report it renders) and sends it back as it is ready; what comes
back is handed on in the order of the targets, as one engine gives them.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.checks.engine import CheckEngine, CheckRequest, unchecked
from chalicelib.domain.clock import utc_now
from chalicelib.domain.models import TargetReport

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


def worker_count(asked: int | None, targets: int) -> int:
    """Processes for ``targets``: as asked, else one per core this process may use; never more than targets."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(asked or cores, targets))


def check_in_processes[Presented](
    requests: Sequence[CheckRequest],
    engine: Callable[[], CheckEngine],
    workers: int,
    present: Callable[[TargetReport], Presented],
) -> Iterator[Presented]:
    """``present`` of the report of every request, in request order, from ``workers`` processes.

    One worker, or a process that already runs other threads (forking those is unsafe), checks
    here on the engine's threads alone.
    """
    if workers <= 1 or threading.active_count() > 1 or not hasattr(os, "fork"):
        built = engine()
        try:
            yield from map(present, built.check_many(requests))
        finally:
            built.close()
        return
    yield from _Pool(requests, engine, workers, present).reports()


class _Pool:
    def __init__(
        self,
        requests: Sequence[CheckRequest],
        engine: Callable[[], CheckEngine],
        workers: int,
        present: Callable[[TargetReport], Any],
    ) -> None:
        import multiprocessing  # here, not at the top: a run over one target never pays for it

        self._requests = requests
        self._workers = workers
        self._present = present
        context = multiprocessing.get_context("fork")
        # What this process built so far (modules, the parsed trust store, the targets) leaves the
        # collector's view before the fork, so no worker's collector walks the pages it inherited
        # and copies them on write (bench/README.md has what it saves).
        gc.freeze()
        self._pipes: dict[Connection, int] = {}
        self._processes = []
        for share in range(workers):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(engine, present, requests, share, workers, send), daemon=True)
            process.start()
            send.close()  # the worker holds the only writing end: its exit is our end of file
            self._pipes[receive] = share
            self._processes.append(process)

    def reports(self) -> Iterator[Any]:
        from multiprocessing.connection import wait

        ready: dict[int, Any] = {}
        following = 0
        try:
            while following < len(self._requests):
                if following in ready:
                    yield ready.pop(following)
                    following += 1
                    continue
                for pipe in wait(list(self._pipes)):
                    self._receive(pipe, ready)  # type: ignore[arg-type]
        finally:
            gc.unfreeze()
            for process in self._processes:
                process.join(timeout=1)
                if process.is_alive():
                    process.terminate()
            for pipe in self._pipes:
                pipe.close()

    def _receive(self, pipe: Connection, ready: dict[int, Any]) -> None:
        try:
            message: Any = pipe.recv()
        except EOFError:  # the worker is gone: what it did not report cannot come any more
            share = self._pipes.pop(pipe)
            now = utc_now()
            for index in range(share, len(self._requests), self._workers):
                if index not in ready:
                    ready[index] = self._present(unchecked(self._requests[index].endpoint, _LOST, now))
            return
        index, presented = message
        ready[index] = presented


_LOST = "not checked: the worker process checking it stopped"


def _work(
    engine: Callable[[], CheckEngine],
    present: Callable[[TargetReport], Any],
    requests: Sequence[CheckRequest],
    share: int,
    workers: int,
    pipe: Connection,
) -> None:
    built = engine()
    try:
        mine = requests[share::workers]
        for position, report in enumerate(built.check_many(mine)):
            pipe.send((share + position * workers, present(report)))
    finally:
        built.close()
        pipe.close()
