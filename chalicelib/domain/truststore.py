"""Trust anchors: the public roots (certifi, else the system bundle) plus a team's own CAs.

A team's own anchors (a target's ``ca_bundle``, ``--ca-file``) are *private*: chains that end
there are judged by what OpenSSL and browsers with that root installed accept, not by the
CA/Browser Forum's profile for public CAs (see ``pathvalidation``).
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import Store

from chalicelib.errors import TrustStoreError

# Where common distributions keep their bundle, for when neither certifi nor OpenSSL knows one.
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


class TrustStore:
    """A set of trust anchors, indexed by subject so a chain's issuer is found in one lookup.

    ``anchors`` are judged as public roots; ``private`` anchors are a team's own CAs.
    """

    def __init__(self, anchors: Iterable[x509.Certificate], private: Iterable[x509.Certificate] = ()) -> None:
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        self._fingerprints: set[bytes] = set()
        self._public_fingerprints: set[bytes] = set()
        self._public: list[x509.Certificate] = []
        self._private: list[x509.Certificate] = []
        for cert, kind in [*((c, self._public) for c in anchors), *((c, self._private) for c in private)]:
            fingerprint = cert.fingerprint(hashes.SHA256())
            if fingerprint in self._fingerprints:
                continue
            self._fingerprints.add(fingerprint)
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
            kind.append(cert)
            if kind is self._public:
                self._public_fingerprints.add(fingerprint)

    def __len__(self) -> int:
        return len(self._fingerprints)

    def contains(self, fingerprint: bytes) -> bool:
        """Whether the certificate with this SHA-256 fingerprint is itself an anchor."""
        return fingerprint in self._fingerprints

    def is_public(self, anchor: x509.Certificate) -> bool:
        """Whether ``anchor`` is one of the public roots (not a team's own CA)."""
        return anchor.fingerprint(hashes.SHA256()) in self._public_fingerprints

    def issuers_named(self, name: x509.Name) -> list[x509.Certificate]:
        """Anchors whose subject is ``name`` (candidates to have signed a certificate)."""
        return self._by_subject.get(name.public_bytes(), [])

    def with_anchors(self, extra: Iterable[x509.Certificate]) -> TrustStore:
        """A new store holding these anchors and ``extra`` as private anchors (e.g. a team's internal CA)."""
        return TrustStore(self._public, [*self._private, *extra])

    @cached_property
    def verifier_store(self) -> Store | None:
        """Every anchor, as pyca's verifier takes them (None when there is none); built once."""
        anchors = [*self._public, *self._private]
        return Store(anchors) if anchors else None

    @cached_property
    def private_store(self) -> Store | None:
        """The private anchors alone, for judging a chain by the private profile; None without any."""
        return Store(self._private) if self._private else None


def parse_pem_bundle(pem: bytes, *, source: str = "bundle") -> list[x509.Certificate]:
    """Every certificate in a PEM bundle; TrustStoreError when there is none or it is malformed."""
    try:
        with warnings.catch_warnings():
            # Public bundles still hold a few old roots with a zero or negative serial number.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:  # cryptography's text names its own internals, not the problem
        problem = (
            "a certificate block in it is not a valid X.509 certificate (or its base64 or END line is broken)"
            if b"-----BEGIN CERTIFICATE-----" in pem
            else "no PEM certificate block (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----) in it"
        )
        raise TrustStoreError(f"{source}: not a PEM certificate bundle: {problem}") from exc
    if not certs:
        raise TrustStoreError(f"{source}: no certificate found")
    return certs


def load_pem_file(path: str | Path) -> list[x509.Certificate]:
    """The certificates of a PEM file (``--ca-file``)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TrustStoreError(f"cannot read CA file {path}: {exc.strerror or exc}") from exc
    return parse_pem_bundle(data, source=str(path))


def default_bundle_path() -> str:
    """The public roots to trust: certifi's Mozilla bundle, else the system's."""
    try:
        import certifi
    except ImportError:
        pass
    else:
        return str(certifi.where())
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *_SYSTEM_BUNDLES):
        if candidate and Path(candidate).is_file():
            return candidate
    raise TrustStoreError("no CA bundle found: install certifi or the system ca-certificates package")


def load_trust_store(ca_files: Iterable[str | Path] = (), *, public_roots: bool = True) -> TrustStore:
    """The public roots (unless ``public_roots`` is false) plus every certificate in ``ca_files`` (private)."""
    public = load_pem_file(default_bundle_path()) if public_roots else []
    private = [cert for path in ca_files for cert in load_pem_file(path)]
    return TrustStore(public, private)
