"""Benchmark of the checking engine: N loopback TLS servers, every check verified and analysed.

Servers run in child processes, so the CPU figure is the checker's own. Prints checks per
second, CPU milliseconds per check and peak memory (RSS) of the checking process.

    make bench                      # 200 endpoints, 5 rounds
    make bench BENCH_ARGS="--endpoints 500 --rounds 3 --concurrency 64"
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter

from bench import loopback
from chalicelib.checks.engine import CheckEngine, CheckRequest
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.truststore import TrustStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200, help="loopback TLS servers (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over every endpoint (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="engine concurrency (default 32)")
    parser.add_argument("--server-processes", type=int, default=2, help="processes serving TLS (default 2)")
    args = parser.parse_args(argv)

    with loopback.serving(args.endpoints, args.server_processes) as zoo:
        engine = CheckEngine(
            trust=TrustStore([zoo.root.cert]),
            resolver=SystemResolver({name: ["127.0.0.1"] for name in zoo.names}),
            timeout=10,
            concurrency=args.concurrency,
        )
        requests = [CheckRequest(parse_target(target)) for target in zoo.targets()]
        try:
            # The first pass parses and verifies every certificate; later passes find them in the
            # engine's caches, as repeated checks of the same endpoints do in a warm Lambda.
            cold_wall, cold_cpu = time.perf_counter(), time.process_time()
            statuses = Counter(r.status.value for r in engine.check_many(requests))
            cold_wall, cold_cpu = time.perf_counter() - cold_wall, time.process_time() - cold_cpu
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            checks = 0
            for _ in range(args.rounds):
                for report in engine.check_many(requests):
                    checks += len(report.results)
            wall = time.perf_counter() - wall_start
            cpu = time.process_time() - cpu_start
        finally:
            engine.close()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.endpoints} endpoints, {args.rounds} rounds")
    print(f"concurrency {args.concurrency}, servers in {args.server_processes} child processes")
    print(f"states seen per pass: {dict(sorted(statuses.items()))}")
    cold_rate, cold_ms = args.endpoints / cold_wall, cold_cpu * 1000 / args.endpoints
    print(f"first pass:        {cold_rate:,.0f} checks/s, {cold_ms:.2f} CPU ms/check (nothing cached yet)")
    print(f"checks:            {checks} in the timed rounds")
    print(f"checks per second: {checks / wall:,.0f}")
    print(f"CPU ms per check:  {cpu * 1000 / checks:.2f} (checking process only)")
    print(f"peak memory:       {peak_mib:.0f} MiB RSS (checking process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
