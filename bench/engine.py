"""Benchmark of the checking engine: N loopback TLS servers, every check verified and analysed.

Servers run in child processes, so the CPU figure is the checker's own. Prints checks per
second, CPU milliseconds per check and peak memory (RSS) of the checking process.

    make bench                      # 200 endpoints, 5 rounds
    make bench BENCH_ARGS="--endpoints 500 --rounds 3 --concurrency 64"
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

from chalicelib.endpoints import parse_target
from chalicelib.engine import CheckEngine, CheckRequest
from chalicelib.resolver import SystemResolver
from chalicelib.truststore import TrustStore
from lab.certs import Issued, make_ca, make_cert
from lab.servers import TlsServer

# The mix of certificate states the servers present (cycled over the endpoints).
KINDS = ("healthy", "healthy", "healthy", "expiring", "expired", "wrong-name", "self-signed", "no-intermediate")


def _chain(kind: str, index: int, root: Issued, inter: Issued, now: datetime) -> list[Issued]:
    name = f"host{index}.bench.test"
    day = timedelta(days=1)
    if kind == "expiring":
        return [make_cert(name, issuer=inter, not_before=now - 80 * day, not_after=now + 5 * day), inter]
    if kind == "expired":
        return [make_cert(name, issuer=inter, not_before=now - 90 * day, not_after=now - day), inter]
    if kind == "wrong-name":
        return [make_cert("elsewhere.bench.test", issuer=inter), inter]
    if kind == "self-signed":
        return [make_cert(name)]
    if kind == "no-intermediate":
        return [make_cert(name, issuer=inter)]
    return [make_cert(name, issuer=inter), inter]


def _serve(chains: list[list[tuple[bytes, bytes]]], ports: Connection, stop: Connection) -> None:
    """Child process: one TlsServer per chain; sends the ports back, serves until told to stop."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    servers = []
    for chain in chains:
        key = load_pem_private_key(chain[0][1], password=None)
        servers.append(TlsServer([der for der, _ in chain], key).start())  # type: ignore[arg-type]
    ports.send([s.port for s in servers])
    stop.recv()
    for server in servers:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200, help="loopback TLS servers (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over every endpoint (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="engine concurrency (default 32)")
    parser.add_argument("--server-processes", type=int, default=2, help="processes serving TLS (default 2)")
    args = parser.parse_args(argv)

    now = datetime.now(UTC)
    root = make_ca("certwatch Bench Root")
    inter = make_ca("certwatch Bench Intermediate", issuer=root)
    kinds = [KINDS[i % len(KINDS)] for i in range(args.endpoints)]
    chains = [_chain(kind, i, root, inter, now) for i, kind in enumerate(kinds)]
    payload = [[(c.der, c.key_pem) for c in chain] for chain in chains]

    context = multiprocessing.get_context("spawn")
    shares = [list(range(p, args.endpoints, args.server_processes)) for p in range(args.server_processes)]
    children, stops, ports = [], [], [0] * args.endpoints
    for share in shares:
        port_recv, port_send = context.Pipe(duplex=False)
        stop_recv, stop_send = context.Pipe(duplex=False)
        child = context.Process(target=_serve, args=([payload[i] for i in share], port_send, stop_recv), daemon=True)
        child.start()
        children.append(child)
        stops.append(stop_send)
        for index, port in zip(share, port_recv.recv(), strict=True):
            ports[index] = port

    names = {f"host{i}.bench.test": ["127.0.0.1"] for i in range(args.endpoints)}
    engine = CheckEngine(
        trust=TrustStore([root.cert]),
        resolver=SystemResolver(names),
        timeout=10,
        concurrency=args.concurrency,
    )
    requests = [CheckRequest(parse_target(f"host{i}.bench.test:{port}")) for i, port in enumerate(ports)]
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
        for stop in stops:
            stop.send(True)
        for child in children:
            child.join(timeout=10)

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
