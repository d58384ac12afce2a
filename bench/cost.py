"""The monthly bill of a deployment, from measured units per check: docs/deploying.md's table.

    .venv/bin/python -m bench.cost                       # the units make bench-sweep measured
    .venv/bin/python -m bench.cost --unchanged-writes 6  # as if every check wrote its full result

Every target is checked every ``--interval-hours``; a check whose verdict did not change writes
``--unchanged-writes`` units, and one check a day (the full result's refresh, or a change)
writes ``--full-writes``; each due target's lease is ``--lease-writes``. The defaults are the
figures of `make bench-sweep` recorded in bench/README.md. Prices are us-east-1 list prices,
on-demand, x86, free tiers ignored.
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
METRICS = 10
LOG_KB_PER_CHECK = 1.0
STORED_KB_PER_TARGET = 7.0
SNS_PER_TARGET = 0.00002  # events only, a few per certificate per lifetime, and their emails


@dataclass(frozen=True)
class Units:
    """What one check costs, as measured."""

    unchanged_writes: float
    full_writes: float
    reads: float
    lease_writes: float
    lease_reads: float
    interval_hours: float
    batch: int
    batch_seconds: float
    memory_mb: int

    @property
    def full_share(self) -> float:
        """The checks that write the full result: one a day (at least every check when checks are a day apart)."""
        return min(1.0, self.interval_hours / 24)

    @property
    def writes(self) -> float:
        unchanged = (1 - self.full_share) * self.unchanged_writes
        return self.lease_writes + unchanged + self.full_share * self.full_writes


def bill(targets: int, units: Units) -> dict[str, float]:
    """Dollars a month, by service."""
    checks = targets * HOURS_A_MONTH / units.interval_hours
    batches = checks / units.batch
    sweeps = HOURS_A_MONTH * 60 / SWEEP_MINUTES
    lambda_gb_s = batches * units.batch_seconds * units.memory_mb / 1024 + sweeps * SWEEP_GB_SECONDS
    sqs_requests = checks / 10 + 2 * batches  # a send per 10, a receive and a delete per batch
    return {
        "Lambda": lambda_gb_s * LAMBDA_PER_GB_SECOND + (batches + sweeps) / 1e6 * LAMBDA_PER_MILLION_REQUESTS,
        "DynamoDB": checks * units.writes / 1e6 * DYNAMO_PER_MILLION_WRITES
        + checks * (units.reads + units.lease_reads) / 1e6 * DYNAMO_PER_MILLION_READS
        + targets * STORED_KB_PER_TARGET / 1e6 * DYNAMO_PER_GB_MONTH,
        "SQS": sqs_requests / 1e6 * SQS_PER_MILLION_REQUESTS,
        "SNS": targets * SNS_PER_TARGET,
        "CloudWatch": checks * LOG_KB_PER_CHECK / 1e6 * LOGS_PER_GB + METRICS * METRIC_PER_MONTH,
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
    parser.add_argument("--full-writes", type=float, default=6.0, help="write units of a check writing its result")
    parser.add_argument("--reads", type=float, default=3.02, help="read units of a check")
    parser.add_argument("--lease-writes", type=float, default=1.0, help="write units of the sweep's lease")
    parser.add_argument("--lease-reads", type=float, default=0.102, help="read units of the sweep per due target")
    parser.add_argument("--interval-hours", type=float, default=6.0)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--batch-seconds", type=float, default=2.0, help="the checker's duration per batch")
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args(argv)
    units = Units(
        args.unchanged_writes,
        args.full_writes,
        args.reads,
        args.lease_writes,
        args.lease_reads,
        args.interval_hours,
        args.batch,
        args.batch_seconds,
        args.memory_mb,
    )
    print(f"write units per check {units.writes:.2f} (lease {units.lease_writes:g}, {units.full_share:.0%} full)")
    print(table(units))
    return 0


if __name__ == "__main__":
    sys.exit(main())
