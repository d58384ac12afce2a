"""Trust anchors: the public roots (certifi, else the system bundle) plus a team's own CAs.

A team's own anchors (a target's ``ca_bundle``, ``--ca-file``) are *private*: chains that end
there are judged by what OpenSSL and browsers with that root installed accept, not by the
CA/Browser Forum's profile for public CAs (see ``pathvalidation``).
"""

from __future__ import annotations

import re
import ssl
import warnings
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
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
    """Every certificate of a PEM bundle, each read whole; TrustStoreError naming the first that is not.

    What a caller hands in (a target's ``ca_bundle``, ``--ca-file``) is refused here, at the edge,
    so that no check ever meets a certificate it cannot read.
    """
    certs, problems = read_pem_bundle(pem, source=source)
    if problems:
        raise TrustStoreError(problems[0])
    return certs


def read_pem_bundle(pem: bytes, *, source: str = "bundle") -> tuple[list[x509.Certificate], list[str]]:
    """The certificates of a PEM bundle that read whole, and a line for each block that does not.

    cryptography parses lazily: a subject that is not UTF-8, say, loads and then raises in
    whatever code first reads it. Every field is read here, so a certificate either is usable
    anywhere or is named (with its place in the bundle) as the one that is not. A bundle with no
    certificate at all is one problem.
    """
    blocks = _PEM_CERTIFICATE.findall(pem)
    if not blocks:
        problem = (
            "a certificate block in it is not a valid X.509 certificate (or its base64 or END line is broken)"
            if b"-----BEGIN CERTIFICATE-----" in pem
            else "no PEM certificate block (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----) in it"
        )
        return [], [f"{source}: not a PEM certificate bundle: {problem}"]
    certs, problems = [], []
    for position, block in enumerate(blocks, start=1):
        where = f"certificate {position} of {len(blocks)}" if len(blocks) > 1 else "its certificate"
        try:
            certs.append(_read_whole(block))
        except _Unreadable as exc:
            problems.append(f"{source}: {where} cannot be used: {exc}")
    return certs, problems


# One whole block, BEGIN to END: a block with a broken END line is no block (said as such above).
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)


class _Unreadable(Exception):
    """What part of a certificate cannot be read, in words."""


def _read_whole(block: bytes) -> x509.Certificate:
    with warnings.catch_warnings():
        # Public bundles still hold a few old roots with a zero or negative serial number.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            cert = x509.load_pem_x509_certificate(block)
        except x509.InvalidVersion as exc:
            raise _Unreadable(
                f"its X.509 version field says v{exc.parsed_version + 1}; certificates are v3 (or v1, some old roots)"
            ) from exc
        except Exception as exc:  # whatever cryptography raises: the caller's bytes, not our bug
            raise _Unreadable(f"it is not a valid X.509 certificate ({_der_problem(exc)})") from exc
        for part, read in _PARTS:
            try:
                read(cert)
            except Exception as exc:  # ValueError, UnsupportedAlgorithm, DuplicateExtension, ...
                raise _Unreadable(f"{part} cannot be read ({_der_problem(exc)})") from exc
    return cert


# Every part of a certificate that a check may read, in the order a reader meets them.
_PARTS: tuple[tuple[str, Callable[[x509.Certificate], object]], ...] = (
    ("its serial number", lambda c: c.serial_number),
    ("its subject", lambda c: (c.subject.rfc4514_string(), c.subject.public_bytes())),
    ("its issuer", lambda c: (c.issuer.rfc4514_string(), c.issuer.public_bytes())),
    ("its validity dates", lambda c: (c.not_valid_before_utc, c.not_valid_after_utc)),
    ("its extensions", lambda c: [extension.value for extension in c.extensions]),
    ("its public key", lambda c: c.public_key()),
    ("its signature algorithm", lambda c: (c.signature_algorithm_oid, c.signature_hash_algorithm)),
)
# What cryptography's DER parser calls the trouble (its messages quote Rust debug output).
_DER_KINDS = {
    "InvalidValue": "a value is not what its type allows, such as text that is not UTF-8",
    "InvalidLength": "a length is wrong",
    "ShortData": "it is cut short",
    "ExtraData": "bytes follow where none may",
    "UnexpectedTag": "a field is not the one expected there",
    "InvalidSetOrdering": "a SET is not in DER order",
    "UnknownDefinedBy": "an algorithm it names is unknown",
}


def _der_problem(exc: Exception) -> str:
    if isinstance(exc, x509.DuplicateExtension):
        return f"the extension {exc.oid.dotted_string} appears twice"
    if isinstance(exc, UnsupportedAlgorithm):
        return "it uses an algorithm certwatch does not support"
    kind = re.search(r"kind: (\w+)", str(exc))
    if kind is not None:
        return _DER_KINDS.get(kind[1], f"malformed DER: {kind[1]}")
    return str(exc) or type(exc).__name__


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
