"""certwatch's floor on this machine: a check's TLS handshake and the judging of its chain, nothing else.

One target at a time, no threads, no start-up counted, no rendering: the CPU a check cannot do
without on this stack (pyOpenSSL for the handshake, pyca/cryptography's verifier and
certwatch's analysis for the verdict). ``bench/whole.py`` runs it in a fresh process each round,
so the judging's caches start cold, as they do in ``certwatch check``.

    python -m bench.floor TARGETS_FILE CA_FILE     # prints: HANDSHAKE_MS JUDGING_MS (CPU, per target)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chalicelib.checks.tlsprobe import TlsProbe
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.clock import utc_now
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import CheckPolicy
from chalicelib.domain.truststore import load_trust_store
from chalicelib.errors import ProbeError


def main(argv: list[str] | None = None) -> int:
    targets_file, ca_file = argv if argv is not None else sys.argv[1:]
    endpoints = [parse_target(line) for line in Path(targets_file).read_text().split()]
    trust = load_trust_store([ca_file])  # the public roots and the zoo's root, as `--ca-file` gives them
    probe = TlsProbe()
    policy = CheckPolicy()
    handshaking = judging = 0.0
    for endpoint in endpoints:
        started = time.process_time()
        try:
            served = probe.handshake(endpoint, "127.0.0.1", timeout=10).served
        except ProbeError:
            handshaking += time.process_time() - started
            continue
        shaken = time.process_time()
        analyze_chain(list(served), name=endpoint.checked_name, now=utc_now(), trust=trust, policy=policy)
        judging += time.process_time() - shaken
        handshaking += shaken - started
    print(f"{handshaking * 1000 / len(endpoints):.4f} {judging * 1000 / len(endpoints):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
