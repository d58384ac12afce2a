"""Benchmark of the checker function's handler: SQS batches of real size, far endpoints, a few tarpits.

Serves ``--endpoints`` healthy TLS endpoints, each behind a ``lab.latency.LatencyProxy`` (a round
trip of ``--rtt`` ± ``--jitter``/2 seconds per flight; with ``--rtt-high``, each endpoint's own round
trip drawn between the two, near and far hosts mixed), and ``--tarpit-percent`` of the targets as
tarpits (accept, never answer), from child processes. Hands the checker's worker (the SQS
handler's code: load, check, store, alert; the store in memory, so the figures are the check
path's) batches of ``--batch`` messages, as the event source mapping would, three times in one
run: without the straggler cut (every batch waits for every check) and with it (the stragglers
handed to the alone queue, then checked by checker_alone's worker in batches of 10), and with it
once more over the same targets, each verdict then unchanged (as most checks are). Prints:

    wall/floor   each batch's wall time against its floor: the slowest live check's own time
                 in that batch (the batch cannot return sooner), median and worst
    GB-s/1,000   GB-seconds per 1,000 checks, the checker at ``--memory-mb`` and checker_alone
                 at 256 MB
    tarpits      what became of the tarpit targets (their status and failure), and how many
                 messages the batches gave back to SQS

    make bench-batch
    make bench-batch BATCH_ARGS="--endpoints 200 --tarpit-percent 2 --batch 10 25 50"
    make bench-batch BATCH_ARGS="--store-ms 5 --teams 10 --rtt 0.01 --rtt-high 0.3"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from bench.loopback import in_child

DOMAIN = "batch.bench.test"


@dataclass(frozen=True)
class Served:
    """What the child process serves: (name, port) of each live endpoint and each tarpit, and the root."""

    live: list[tuple[str, int]]
    tarpits: list[tuple[str, int]]
    root_pem: str


def _serve(
    endpoints: int, tarpits: int, rtts: list[float], jitter: float, answer: Connection, stop: Connection
) -> None:  # pragma: no cover - runs in the child
    from lab.certs import make_ca, make_cert
    from lab.latency import LatencyProxy
    from lab.servers import SilentServer, TlsServer

    root = make_ca("certwatch Batch Bench Root")
    inter = make_ca("certwatch Batch Bench Intermediate", issuer=root)
    running: list[Any] = []
    live = []
    for index in range(endpoints):
        name = f"live{index}.{DOMAIN}"
        leaf = make_cert(name, issuer=inter)
        server = TlsServer([leaf.der, inter.der], leaf.key).start()
        proxy = LatencyProxy(("127.0.0.1", server.port), rtt=rtts[index], jitter=jitter, seed=index).start()
        running += [server, proxy]
        live.append((name, proxy.port))
    pits = []
    for index in range(tarpits):
        pit = SilentServer().start()
        running.append(pit)
        pits.append((f"tarpit{index}.{DOMAIN}", pit.port))
    answer.send(Served(live, pits, root.pem.decode()))
    stop.recv()
    for server in running:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200, help="live endpoints (default 200)")
    parser.add_argument("--tarpit-percent", type=float, default=2.0, help="tarpits, %% of the targets (default 2)")
    parser.add_argument("--rtt", type=float, default=0.08, help="round trip in seconds (default 0.08)")
    parser.add_argument("--jitter", type=float, default=0.04, help="round trip spread in seconds (default 0.04)")
    parser.add_argument(
        "--rtt-high",
        type=float,
        help="each live endpoint's own round trip, drawn log-uniformly from --rtt to this (seconds; "
        "near and far hosts mixed, as real ones are), jittered as --jitter says; else all at --rtt",
    )
    parser.add_argument("--batch", type=int, nargs="+", default=[25], help="batch sizes to run (default 25)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="the checker's memory size (default 1024)")
    parser.add_argument("--timeout", type=float, default=10.0, help="CERTWATCH_CHECK_TIMEOUT (default 10)")
    parser.add_argument("--teams", type=int, default=1, help="teams the targets are spread over (default 1)")
    parser.add_argument(
        "--store-ms", type=float, default=0.0, help="each store request waits this long first, as DynamoDB's would"
    )
    args = parser.parse_args(argv)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        os.environ[name] = value
    tarpits = max(1, round((args.endpoints * args.tarpit_percent) / (100 - args.tarpit_percent)))

    from chalicelib.checks.resolver import SystemResolver
    from chalicelib.deps import Container
    from chalicelib.domain.endpoints import parse_target
    from chalicelib.domain.targets import Target, TargetSpec, new_target_id
    from chalicelib.settings import Settings
    from tests.support.fakes import InMemoryStore, RecordingCheckQueue, RecordingPublisher

    rtts = _round_trips(args.endpoints, args.rtt, args.rtt_high)
    at = f"{args.rtt * 1000:.0f}" if args.rtt_high is None else f"{args.rtt * 1000:.0f}-{args.rtt_high * 1000:.0f}"
    print(
        f"{args.endpoints} live endpoints at {at} ± {args.jitter * 500:.0f} ms a round trip, "
        f"{tarpits} tarpits ({tarpits / (args.endpoints + tarpits):.1%}); check timeout {args.timeout:g} s; "
        f"checker {args.memory_mb} MB, checker_alone {ALONE_MB} MB; the store in memory, "
        + (f"each request {args.store_ms:g} ms" if args.store_ms else "at once (the check path alone)")
    )
    with in_child(_serve, args.endpoints, tarpits, rtts, args.jitter) as served:
        names = {name: ["127.0.0.1"] for name, _ in [*served.live, *served.tarpits]}
        now = datetime.now(UTC)
        targets, pit_ids = [], set()
        for index, (name, port) in enumerate(_spread(served)):
            target = Target(
                id=new_target_id(),
                team=f"team{index % args.teams}",
                spec=TargetSpec(parse_target(f"tls://{name}:{port}"), ca_bundle=served.root_pem),
                created_at=now,
                updated_at=now,
                scheduled_at=now,
            )
            targets.append(target)
            if name.startswith("tarpit"):
                pit_ids.add((target.team, target.id))
        for size in args.batch:
            for cut in (False, True):
                settings = Settings.for_stage("bench", allow_cidrs="127.0.0.0/8", check_timeout=args.timeout)
                store, alone = _store(InMemoryStore, args.store_ms / 1000), RecordingCheckQueue()
                for target in targets:
                    store.create_target(target)
                container = Container(
                    settings,
                    store=store,
                    publisher=RecordingPublisher(),
                    resolver=SystemResolver(names),
                    alone_queue=alone,
                )
                _run(container, targets, size, pit_ids, args.memory_mb, alone, cut=cut)
                if cut:  # the same targets again: every check now one of an unchanged verdict, as most are
                    alone.sent.clear()
                    _run(container, targets, size, pit_ids, args.memory_mb, alone, cut=cut, again=True)
                container.engine.close()
    return 0


ALONE_MB = 256


def _round_trips(endpoints: int, low: float, high: float | None) -> list[float]:
    """Each live endpoint's round trip: all ``low``, or drawn log-uniformly between ``low`` and ``high`` (seeded)."""
    if high is None:
        return [low] * endpoints
    draw = random.Random(27)
    return [math.exp(draw.uniform(math.log(low), math.log(high))) for _ in range(endpoints)]


def _store(kind: type, wait: float) -> Any:
    """The in-memory store, each of its ports' calls (one DynamoDB request each, nearly) ``wait`` s late."""
    if not wait:
        return kind()

    class Distant(kind):  # type: ignore[misc]
        def __getattribute__(self, name: str) -> Any:
            found = super().__getattribute__(name)
            if name.startswith("_") or not callable(found):
                return found

            def late(*args: Any, **kwargs: Any) -> Any:
                time.sleep(wait)
                return found(*args, **kwargs)

            return late

    return Distant()


def _spread(served: Served) -> list[tuple[str, int]]:
    """Tarpits spread evenly among the live endpoints (one in each stretch), as a queue's order mixes them."""
    stretch = max(1, len(served.live) // max(1, len(served.tarpits)))
    order: list[tuple[str, int]] = []
    pits = list(served.tarpits)
    for index, endpoint in enumerate(served.live):
        order.append(endpoint)
        if pits and index % stretch == stretch // 2:
            order.append(pits.pop(0))
    return order + pits


def _run(
    container: Any,
    targets: list[Any],
    size: int,
    pit_ids: set[tuple[str, str]],
    memory_mb: int,
    alone: Any,
    *,
    cut: bool,
    again: bool = False,
) -> None:
    ratios, walls, given_back = [], [], 0
    # checker_alone's worker has no lane for stragglers, so it waits for every check: as before the cut
    checker = container.checker if cut else container.alone_checker
    worker = container.worker if cut else container.alone_worker
    reports = _reports_of(checker)
    for start in range(0, len(targets), size):
        chunk = targets[start : start + size]
        reports.clear()
        began = time.perf_counter()
        outcome = worker.handle(_records(chunk))
        wall = time.perf_counter() - began
        given_back += len(outcome.failed_message_ids)
        floor = 0.0
        for ref, report in reports:  # the batch's own reports (a check of an unchanged verdict stores none)
            if ref not in pit_ids:
                floor = max(floor, max((r.elapsed_ms for r in report.results), default=0.0) / 1000)
        walls.append(wall)
        if floor:
            ratios.append(wall / floor)
    alone_wall = 0.0
    handed = list(alone.sent)
    for start in range(0, len(handed), 10):  # checker_alone's batches
        chunk = [container.store.get_target(team, tid) for team, tid in handed[start : start + 10]]
        began = time.perf_counter()
        container.alone_worker.handle(_records(chunk))
        alone_wall += time.perf_counter() - began
    pits: Counter[str] = Counter()
    for team, tid in pit_ids:
        report = container.store.get_result(team, tid)
        if report is None:
            pits["not checked"] += 1
            continue
        reasons = {f.reason.value for r in report.results for f in r.findings if f.reason is not None}
        pits[f"{report.status.value} ({', '.join(sorted(reasons)) or 'no reason'})"] += 1
    checks = len(targets)
    gb_seconds = (sum(walls) * memory_mb + alone_wall * ALONE_MB) / 1024 / checks * 1000
    print(
        f"batch {size:>3}, {'cut, stragglers alone' if cut else 'no cut (waits for all)'}"
        f"{', checked again (unchanged)' if again else ', first checks' if cut else ''}: "
        f"wall/floor median {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x "
        f"(wall median {statistics.median(walls):.2f} s, worst {max(walls):.2f} s); "
        f"{gb_seconds:.1f} GB-s per 1,000 checks (checker_alone {alone_wall:.1f} s over {len(handed)}, "
        f"{sum(ref not in pit_ids for ref in handed)} of them live); "
        f"tarpits: {dict(pits)}; messages given back: {given_back}"
    )


def _reports_of(checker: Any) -> list[tuple[tuple[str, str], Any]]:
    """The reports ``checker`` makes from now on, as ((team, id), report): its ``run`` watched."""
    made: list[tuple[tuple[str, str], Any]] = []
    run = type(checker).run

    def watched(*args: Any) -> Any:
        checked, failed = run(checker, *args)
        made.extend(((c.target.team, c.target.id), c.report) for c in checked)
        return checked, failed

    checker.run = watched
    return made


def _records(chunk: list[Any]) -> list[dict[str, str]]:
    return [{"messageId": f"m-{t.id}", "body": json.dumps({"team": t.team, "id": t.id})} for t in chunk]


if __name__ == "__main__":
    sys.exit(main())
