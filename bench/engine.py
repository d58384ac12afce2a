"""Benchmark of the checking engine: N loopback TLS servers, every check verified and analysed.

Servers run in child processes, so the CPU figure is the checker's own. Prints checks per
second, CPU milliseconds per check and peak memory (RSS) of the checking process.

With ``--revocation crl`` (or ``ocsp``) every endpoint serves a healthy leaf naming a CRL (or an
OCSP responder) on a loopback CA server, and the engine checks revocation: the first pass fills
the per-process caches, the timed rounds show the cost with warm caches (CPU and HTTP requests
per check). The CRL lists ``--crl-entries`` revoked serials (10,000 by default, ~300 KB).
``--baseline`` serves the same leaves without checking revocation, for comparison.

    make bench                      # 200 endpoints, 5 rounds
    make bench BENCH_ARGS="--endpoints 500 --rounds 3 --concurrency 64"
    make bench BENCH_ARGS="--revocation crl"
    make bench BENCH_ARGS="--revocation crl --baseline"
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from cryptography.x509 import ocsp

from bench import loopback
from chalicelib.checks.assembly import check_engine
from chalicelib.checks.engine import CheckRequest
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.truststore import TrustStore
from chalicelib.settings import Settings
from lab.authority import CaHttpServer, Revoked, make_crl, ocsp_answer
from lab.certs import Issued

CA_HOST = "ca.bench.test"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200, help="loopback TLS servers (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over every endpoint (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="engine concurrency (default 32)")
    parser.add_argument("--server-processes", type=int, default=2, help="processes serving TLS (default 2)")
    parser.add_argument("--revocation", choices=["off", "crl", "ocsp"], default="off", help="ask the CA (default off)")
    parser.add_argument("--crl-entries", type=int, default=10_000, help="revoked serials in the CRL (default 10000)")
    parser.add_argument(
        "--baseline", action="store_true", help="serve the same leaves as --revocation, but do not check revocation"
    )
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        ca = stack.enter_context(CaHttpServer()) if args.revocation != "off" else None
        urls = {args.revocation: ca.url(f"/{args.revocation}", host=CA_HOST)} if ca is not None else None
        zoo = stack.enter_context(loopback.serving(args.endpoints, args.server_processes, revocation=urls))
        resolver = SystemResolver({name: ["127.0.0.1"] for name in [*zoo.names, CA_HOST]})
        loopback_only = AddressPolicy.from_text("127.0.0.0/8")
        fetcher = UrlFetcher(resolver=resolver, address_policy=loopback_only)  # counted: requests per check
        if ca is not None:
            _publish(ca, zoo.intermediate, args.crl_entries)
        settings = Settings(
            check_timeout=10,
            check_concurrency=args.concurrency,
            revocation=ca is not None and not args.baseline,
            ari=False,
        )
        engine = check_engine(
            settings,
            trust=TrustStore([zoo.root.cert]),
            resolver=resolver,
            address_policy=loopback_only,
            guard_targets=False,
            fetcher=fetcher,
        )
        requests = [CheckRequest(parse_target(target)) for target in zoo.targets()]
        try:
            # The first pass parses and verifies every certificate; later passes find them in the
            # engine's caches, as repeated checks of the same endpoints do in a warm Lambda.
            cold_wall, cold_cpu = time.perf_counter(), time.process_time()
            statuses = Counter(r.status.value for r in engine.check_many(requests))
            cold_wall, cold_cpu = time.perf_counter() - cold_wall, time.process_time() - cold_cpu
            cold_requests = fetcher.requests
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
    if args.revocation != "off" and not args.baseline:
        warm = fetcher.requests - cold_requests
        print(
            f"revocation:        {args.revocation}, {args.crl_entries} entries in the CRL"
            if args.revocation == "crl"
            else "revocation:        ocsp"
        )
        print(f"  first pass:      {cold_requests} HTTP requests ({cold_requests / args.endpoints:.3f} per check)")
        print(f"  warm rounds:     {warm} HTTP requests ({warm / checks:.3f} per check)")
    return 0


def _publish(ca: CaHttpServer, intermediate: Issued, entries: int) -> None:
    """The CA's CRL (``entries`` revoked serials, none of them served) and its OCSP responder."""
    when = datetime.now(UTC) - timedelta(days=3)
    revoked = [Revoked(10**12 + n, when) for n in range(entries)]
    ca.routes["/crl"] = make_crl(intermediate, revoked)
    good = (ocsp.OCSPCertStatus.GOOD, None, None)

    def answer(method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        serial = ocsp.load_der_ocsp_request(body).serial_number
        return 200, {}, ocsp_answer(body, intermediate, {serial: good})

    ca.routes["/ocsp"] = answer


if __name__ == "__main__":
    sys.exit(main())
