"""The monthly bill of a deployment, from measured figures per check: docs/deploying.md's table.

    .venv/bin/python -m bench.cost                       # the figures recorded in bench/README.md
    .venv/bin/python -m bench.cost --teams 50            # the same deployment with 50 teams
    .venv/bin/python -m bench.cost --team-metrics on     # CERTWATCH_TEAM_METRICS=on: both series by team too
    .venv/bin/python -m bench.cost --team-metrics off    # CERTWATCH_TEAM_METRICS=off: the stage's series alone
    .venv/bin/python -m bench.cost --unchanged-writes 8  # as if every check wrote its full result

Every target is checked every ``--interval-hours``, and its verdict is taken not to change: a
check writes ``--unchanged-writes`` units, except one check a day, which writes the full result
again (``--full-writes``; its reads likewise, ``--unchanged-reads`` and ``--full-reads``); the sweep's share
per due target is ``--sweep-writes``. Measured by
``make bench-sweep`` (units per check), ``make bench-batch BATCH_ARGS="--store-ms 5"`` (the
checker's and checker_alone's GB-seconds per 1,000 checks, each store request 5 ms late, as a
DynamoDB round trip; that latency is the one figure assumed there) and ``python -m bench.logs``
(bytes logged per check). Assumed too, and named as such: ``--teams`` teams and ``--channels``
channels (each adds CloudWatch custom metrics, docs/metrics.md). Prices are us-east-1 list prices, on-demand, x86,
free tiers ignored.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

# us-east-1 list prices: https://aws.amazon.com/dynamodb/pricing/on-demand/ ,
# https://aws.amazon.com/lambda/pricing/ , https://aws.amazon.com/sqs/pricing/ ,
# https://aws.amazon.com/cloudwatch/pricing/
DYNAMO_PER_MILLION_WRITES = 0.625
DYNAMO_PER_MILLION_READS = 0.125
DYNAMO_PER_GB_MONTH = 0.25
LAMBDA_PER_GB_SECOND = 0.0000166667
LAMBDA_PER_MILLION_REQUESTS = 0.20
SQS_PER_MILLION_REQUESTS = 0.40
LOGS_PER_GB = 0.50
METRIC_PER_MONTH = 0.30
# docs/deploying.md's assumptions
HOURS_A_MONTH = 720
SWEEP_MINUTES = 15
SWEEP_GB_SECONDS = 0.5 * 1.0  # 512 MB for about a second
# Custom metrics of a stage whatever its size (the functions' counts, and the stage-level series
# of SoonestExpiryDays, ChecksByStatus and the deliveries), then those each team and channel adds.
STAGE_METRICS = 26
# By CERTWATCH_TEAM_METRICS: SoonestExpiryDays and ChecksByStatus of its statuses (four), that one alone, or none.
METRICS_PER_TEAM = {"on": 5, "expiry": 1, "off": 0}
METRICS_PER_CHANNEL = 2
DASHBOARD_PER_MONTH = 3.00
STORED_KB_PER_TARGET = 7.0
SNS_PER_TARGET = 0.00002  # events only, a few per certificate per lifetime, and their emails


@dataclass(frozen=True)
class Units:
    """What one check costs, as measured (and the few figures assumed, named in the module's docstring)."""

    unchanged_writes: float
    full_writes: float
    unchanged_reads: float
    full_reads: float
    sweep_writes: float
    sweep_reads: float
    interval_hours: float
    batch: int
    gb_seconds_per_1000: float
    log_bytes: float
    teams: int
    channels: int
    team_metrics: str = "expiry"  # CERTWATCH_TEAM_METRICS

    @property
    def full_share(self) -> float:
        """The checks that write the full result: one a day (at least every check when checks are a day apart)."""
        return min(1.0, self.interval_hours / 24)

    @property
    def writes(self) -> float:
        return self.sweep_writes + (1 - self.full_share) * self.unchanged_writes + self.full_share * self.full_writes

    @property
    def reads(self) -> float:
        return (1 - self.full_share) * self.unchanged_reads + self.full_share * self.full_reads

    @property
    def gb_seconds(self) -> float:
        """The checkers' GB-seconds per check."""
        return self.gb_seconds_per_1000 / 1000

    @property
    def metrics(self) -> int:
        per_team = METRICS_PER_TEAM[self.team_metrics]
        return STAGE_METRICS + per_team * self.teams + METRICS_PER_CHANNEL * self.channels


def bill(targets: int, units: Units) -> dict[str, float]:
    """Dollars a month, by service."""
    checks = targets * HOURS_A_MONTH / units.interval_hours
    batches = checks / units.batch
    sweeps = HOURS_A_MONTH * 60 / SWEEP_MINUTES
    lambda_gb_s = checks * units.gb_seconds + sweeps * SWEEP_GB_SECONDS
    sqs_requests = checks / 10 + 2 * batches  # a send per 10, a receive and a delete per batch
    return {
        "Lambda": lambda_gb_s * LAMBDA_PER_GB_SECOND + (batches + sweeps) / 1e6 * LAMBDA_PER_MILLION_REQUESTS,
        "DynamoDB": checks * units.writes / 1e6 * DYNAMO_PER_MILLION_WRITES
        + checks * (units.reads + units.sweep_reads) / 1e6 * DYNAMO_PER_MILLION_READS
        + targets * STORED_KB_PER_TARGET / 1e6 * DYNAMO_PER_GB_MONTH,
        "SQS": sqs_requests / 1e6 * SQS_PER_MILLION_REQUESTS,
        "SNS": targets * SNS_PER_TARGET,
        "CloudWatch logs": checks * units.log_bytes / 1e9 * LOGS_PER_GB,
        "CloudWatch metrics": units.metrics * METRIC_PER_MONTH + DASHBOARD_PER_MONTH,
    }


def table(units: Units, sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> str:
    bills = {size: bill(size, units) for size in sizes}
    head = "| | " + " | ".join(f"{size:,} targets" for size in sizes) + " |"
    lines = [head, "| --- |" + " --- |" * len(sizes)]
    checks = [size * HOURS_A_MONTH / units.interval_hours for size in sizes]
    lines.append("| checks a month | " + " | ".join(f"{c:,.0f}" for c in checks) + " |")
    for service in next(iter(bills.values())):
        lines.append(f"| {service} | " + " | ".join(f"${bills[s][service]:,.2f}" for s in sizes) + " |")
    lines.append("| **total** | " + " | ".join(f"**${sum(bills[s].values()):,.2f}**" for s in sizes) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unchanged-writes", type=float, default=1.0, help="write units of an unchanged check")
    parser.add_argument("--full-writes", type=float, default=3.0, help="write units of the daily full result")
    parser.add_argument("--unchanged-reads", type=float, default=1.53, help="read units of an unchanged check")
    parser.add_argument("--full-reads", type=float, default=2.03, help="read units of the daily full result")
    parser.add_argument("--sweep-writes", type=float, default=0.00024, help="write units of the sweep per due target")
    parser.add_argument(
        "--sweep-reads", type=float, default=1.03, help="read units of the sweep per due target (both passes)"
    )
    parser.add_argument("--interval-hours", type=float, default=6.0)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument(
        "--gb-seconds-per-1000",
        type=float,
        default=19.9,
        help="the checkers' GB-s per 1,000 checks (bench-batch, 10 teams, checked again: unchanged verdicts)",
    )
    parser.add_argument("--log-bytes", type=float, default=162, help="bytes logged per check (bench.logs --teams 10)")
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument(
        "--team-metrics",
        choices=tuple(METRICS_PER_TEAM),
        default="expiry",
        help="CERTWATCH_TEAM_METRICS: the series by team (default expiry)",
    )
    args = parser.parse_args(argv)
    units = Units(
        args.unchanged_writes,
        args.full_writes,
        args.unchanged_reads,
        args.full_reads,
        args.sweep_writes,
        args.sweep_reads,
        args.interval_hours,
        args.batch,
        args.gb_seconds_per_1000,
        args.log_bytes,
        args.teams,
        args.channels,
        args.team_metrics,
    )
    print(
        f"per check: {units.writes:.2f} write units (sweep {units.sweep_writes:g}, {units.full_share:.0%} full), "
        f"{units.reads + units.sweep_reads:.2f} read units, {units.gb_seconds * 1000:.1f} GB-s per 1,000 checks, "
        f"{units.log_bytes:g} bytes logged; {units.teams} teams, {units.channels} channels: {units.metrics} metrics"
    )
    print(table(units))
    return 0


if __name__ == "__main__":
    sys.exit(main())
