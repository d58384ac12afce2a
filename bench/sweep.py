"""Benchmark of the sweep: N targets in DynamoDB (moto, the real infra template), find the due ones
(read, to queue those not checked since their slot's moment) and queue them on SQS; an hour on, a
sweep goes over them again. Prints the requests each service received, the seconds taken, and
DynamoDB's write and read units per due target (bench/units.py:
computed from the items by DynamoDB's rules, since moto's own ConsumedCapacity is a fixed figure).

Then ``--checks`` of those targets (pointed at a TLS server on loopback) are checked twice by the
checker: the first check of each writes its full result, the second finds the same verdict;
it prints the write and read units per check of each.

    make bench-sweep                                   # 100,000 targets, 1 in 24 due
    make bench-sweep BENCH_ARGS="--targets 20000 --due-fraction 1"

With checks every 6 hours and a sweep every 15 minutes, a sweep finds about 1/24 of the targets
due; --due-fraction 1 is the first sweep after an outage.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lab.inprocess import one_request_at_a_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--due-fraction", type=float, default=1 / 24)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument(
        "--checks",
        type=int,
        default=0,
        help="targets checked twice, for the units per check (default 0; e.g. 50 with --targets 2000)",
    )
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_METRICS_DISABLED="true",
    )

    import boto3
    from moto import mock_aws

    from bench.units import Meter
    from certwatch.aws.cloudformation import deploy_stack
    from chalicelib.deps import Container
    from chalicelib.domain.schedule import LEASE
    from chalicelib.settings import Settings
    from tests.support.fakes import RecordingPublisher

    with mock_aws(), one_request_at_a_time():
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moto's CloudFormation skips the alarms, and says so
            outputs = deploy_stack(boto3.client("cloudformation"), "bench")
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        now = datetime.now(UTC)
        due_count = round(args.targets * args.due_fraction)
        started = time.perf_counter()
        items = [_item(index, now, due_count, args.teams) for index in range(args.targets)]
        for start in range(0, len(items), 25):
            dynamodb.batch_write_item(RequestItems={outputs["TableName"]: items[start : start + 25]})
        print(f"loaded {args.targets:,} targets ({due_count:,} due) into moto in {time.perf_counter() - started:.1f} s")

        calls: Counter[str] = Counter()
        for client in (dynamodb, sqs):
            client.meta.events.register("before-call.*.*", _counter(calls, client.meta.service_model.service_name))
        meter = Meter(peek=boto3.client("dynamodb")).attach(dynamodb)
        settings = Settings.for_stage("bench", check_queue_url=outputs["CheckQueueUrl"], allow_cidrs="127.0.0.0/8")
        moment = [now]  # the sweeps' clock: the first sweep at now, the second an hour on
        container = Container(
            settings, dynamodb=dynamodb, sqs=sqs, publisher=RecordingPublisher(), clock=lambda: moment[0]
        )
        started = time.perf_counter()
        result = container.sweeper.sweep()
        seconds = time.perf_counter() - started
        counted = dict(calls)
        swept = meter.snapshot()
        checks = _check_thrice(container, meter, dynamodb, outputs["TableName"], now, args.checks)
        queued = int(
            sqs.get_queue_attributes(QueueUrl=outputs["CheckQueueUrl"], AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        moment[0] = now + LEASE
        # As if checkers had taken them: moto's SQS recounts its queue for every message sent.
        sqs.purge_queue(QueueUrl=outputs["CheckQueueUrl"])
        again = _sweep_again(container, meter)

    print(f"sweep: {result.due:,} due, {result.queued:,} queued ({queued:,} messages on the queue)")
    print(f"seconds:            {seconds:.1f} (moto in-process; AWS adds network latency per request)")
    _print_requests(counted)
    _print_units(swept, max(result.due, 1), checks, meter.reported)
    print(again)
    return 0


def _item(index: int, now: datetime, due_count: int, teams: int) -> WriteRequestTypeDef:
    """The ``index``-th target's item. Due: a slot with a moment a minute ago (in the first sweep's window, the hour
    before it); the rest's moments are 1 to 4 hours after now and 2 to 5 hours before it."""
    from chalicelib.adapters.dynamo import codec
    from chalicelib.domain.endpoints import parse_target
    from chalicelib.domain.targets import Target, TargetSpec, new_target_id

    anchor = now - timedelta(minutes=1) if index < due_count else now + timedelta(hours=1 + index % 4)
    target = Target(
        id=new_target_id() + f"{index:06x}",
        team=f"team{index % teams}",
        spec=TargetSpec(parse_target(f"host{index}.example.com")),
        created_at=now,
        updated_at=now,
        scheduled_at=anchor,
    )
    return {"PutRequest": {"Item": codec.dump(codec.target_item(target))}}


def _print_requests(counted: dict[str, int]) -> None:
    for service, label in (("dynamodb", "DynamoDB requests:  "), ("sqs", "SQS requests:       ")):
        calls = {k.split(":")[1]: v for k, v in counted.items() if k.startswith(f"{service}:")}
        print(f"{label}{sum(calls.values()):,} {dict(sorted(calls.items()))}")


def _sweep_again(container: Any, meter: Any) -> str:
    """A sweep an hour on, which goes over the first one's window again: each target read once more, and queued
    again here, since no checker took the first sweep's messages. What it found, and the units it took."""
    before = meter.snapshot()
    result = container.sweeper.sweep()
    after = meter.snapshot()
    due = max(result.due, 1)
    return (
        f"an hour on:         {result.due:,} due again, {result.queued:,} queued (never checked here); "
        f"{(after[0] - before[0]) / due:.2f} write, {(after[1] - before[1]) / due:.3f} read units per due target"
    )


def _print_units(
    swept: tuple[float, float, int], due: int, checks: dict[str, tuple[float, float, float]], reported: float
) -> None:
    print(f"sweep units:        {swept[0] / due:.2f} write, {swept[1] / due:.3f} read per due target")
    for label, (writes, reads, requests) in checks.items():
        print(f"{label:<20}{writes:.2f} write, {reads:.2f} read units per check ({requests:.1f} DynamoDB requests)")
    print(f"ConsumedCapacity:   {reported:,.0f} units reported (moto's fixed figure; DynamoDB's own on AWS)")


def _check_thrice(
    container: Any, meter: Any, dynamodb: Any, table: str, now: datetime, count: int
) -> dict[str, tuple[float, float, float]]:
    """Check ``count`` targets (a TLS server on loopback) three times: first, again, and again once the stored full
    result is a day old: write, read units and requests per check of each."""
    if count <= 0:
        return {}
    from chalicelib.adapters.dynamo import codec
    from chalicelib.domain.endpoints import parse_target
    from chalicelib.domain.targets import Target, TargetSpec, new_target_id
    from lab.certs import make_ca, make_cert
    from lab.servers import TlsServer

    root = make_ca("certwatch bench root")
    leaf = make_cert("bench.example", sans=["bench.example", "127.0.0.1"], issuer=root)
    server = TlsServer([leaf]).start()
    try:
        targets = [
            Target(
                id=new_target_id(),
                team="checked",
                spec=TargetSpec(parse_target(f"127.0.0.1:{server.port}")),
                created_at=now,
                updated_at=now,
                scheduled_at=now,
            )
            for _ in range(count)
        ]
        for target in targets:
            dynamodb.put_item(TableName=table, Item=codec.dump(codec.target_item(target)))
        rounds: dict[str, tuple[float, float, float]] = {}
        for label in ("changed check:", "unchanged check:", "day-old result:"):
            if label == "day-old result:":  # the stored full result a day old, as the next day's first check finds it
                for t in targets:
                    stored = container.store.get_target(t.team, t.id)
                    aged = replace(stored.latest, result_at=stored.latest.result_at - timedelta(days=1))
                    container.store.save_summary(t.team, t.id, aged)
            before = meter.snapshot()
            fresh = [container.store.get_target(t.team, t.id) for t in targets]  # as the worker reads them
            container.alone_checker.run(fresh)  # every check waited for: no straggler left to another queue
            after = meter.snapshot()
            # The worker's read of each target is part of a check; so is everything the checker writes.
            rounds[label] = (
                (after[0] - before[0]) / count,
                (after[1] - before[1]) / count,
                (after[2] - before[2]) / count,
            )
        return rounds
    finally:
        server.stop()


def _counter(calls: Counter[str], service: str) -> Any:
    def count(model: Any, **kwargs: Any) -> None:
        calls[f"{service}:{model.name}"] += 1

    return count


if __name__ == "__main__":
    sys.exit(main())
