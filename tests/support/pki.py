"""A small private PKI for tests: a root, an intermediate it issued, and a trust store of the root."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.truststore import TrustStore
from lab.certs import Issued, make_ca


@dataclass(frozen=True)
class Pki:
    """A private root and an intermediate it issued; ``trust`` trusts the root only."""

    root: Issued
    intermediate: Issued
    trust: TrustStore


def make_pki() -> Pki:
    root = make_ca("certwatch Test Root")
    intermediate = make_ca("certwatch Test Intermediate", issuer=root)
    return Pki(root, intermediate, TrustStore([root.cert]))
