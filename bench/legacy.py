"""What the legacy protocol probe costs: a second handshake offering TLS 1.0 (or 1.1) alone, per address.

Over N loopback endpoints served from child processes — half accept TLS 1.0 and 1.1 (Python's
ssl at security level 0, as the lab serves), half refuse them (TLS 1.2 at least) — it measures,
one address at a time and in the same rounds, the check's own handshake and each legacy probe
(``LegacyProbe.accepts``): CPU milliseconds of this process and wall milliseconds per address,
the medians of the rounds with the lowest and highest in brackets.

    python -m bench.legacy                      # 200 endpoints, 3 rounds
    python -m bench.legacy --endpoints 50 --rounds 1
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version

from OpenSSL import SSL

from bench import loopback
from chalicelib.checks.tlsprobe import LEGACY_VERSIONS, LegacyProbe, TlsProbe
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import Endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200, help="loopback TLS servers, half of them legacy")
    parser.add_argument("--rounds", type=int, default=3, help="passes over every endpoint (default 3)")
    args = parser.parse_args(argv)
    half = max(1, args.endpoints // 2)
    probe, legacy = TlsProbe(), LegacyProbe()
    rows: dict[str, list[tuple[float, float]]] = {}
    with contextlib.ExitStack() as stack:
        old = stack.enter_context(loopback.serving(half, 1, legacy=True))
        new = stack.enter_context(loopback.serving(half, 1, legacy=False))
        zoos = {"accepted": _endpoints(old), "refused": _endpoints(new)}
        for outcome, endpoints in zoos.items():  # the figures measure what they say they do
            for name in LEGACY_VERSIONS:
                if {legacy.accepts(e, "127.0.0.1", name) for e in endpoints} != {outcome == "accepted"}:
                    raise RuntimeError(f"{name} was not {outcome} everywhere in the {outcome} zoo")
        for _ in range(max(1, args.rounds)):
            for outcome, endpoints in zoos.items():
                rows.setdefault(f"the check's handshake ({outcome} zoo)", []).append(
                    _per_address(endpoints, lambda e: probe.handshake(e, "127.0.0.1", timeout=10) is not None)
                )
                for name in LEGACY_VERSIONS:
                    answer = _per_address(endpoints, partial(legacy.accepts, address="127.0.0.1", version=name))
                    rows.setdefault(f"{name} alone, {outcome}", []).append(answer)
    print(
        f"legacy protocol probe: python {sys.version.split()[0]}, pyOpenSSL {version('pyOpenSSL')} on "
        f"{SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}, {2 * half} endpoints (half accept TLS 1.0 and 1.1, "
        f"half refuse), {len(next(iter(rows.values())))} rounds, one address at a time"
    )
    print("  medians of the rounds (lowest-highest in brackets), per address")
    for label, figures in rows.items():
        cpu, wall = [c for c, _ in figures], [w for _, w in figures]
        print(f"  {label:<40} {_spread(cpu)} CPU ms  {_spread(wall)} ms wall")
    return 0


def _endpoints(zoo: loopback.Zoo) -> list[Endpoint]:
    return [parse_target(f"tls://127.0.0.1:{port}", sni=name) for name, port in zip(zoo.names, zoo.ports, strict=True)]


def _per_address(endpoints: list[Endpoint], step: Callable[[Endpoint], bool]) -> tuple[float, float]:
    """CPU and wall milliseconds per address of ``step`` over ``endpoints``, one after the other."""
    wall, cpu = time.perf_counter(), time.process_time()
    for endpoint in endpoints:
        step(endpoint)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return cpu * 1000 / len(endpoints), wall * 1000 / len(endpoints)


def _spread(values: list[float]) -> str:
    middle = f"{statistics.median(values):.2f}"
    if len(values) < 2:
        return middle
    return f"{middle} ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    sys.exit(main())
