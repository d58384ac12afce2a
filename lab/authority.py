"""What a CA serves besides certificates, for tests, the bench and the demo: CRLs, OCSP and ACME ARI.

``make_crl`` and ``ocsp_answer`` build real CRLs and OCSP responses with ``cryptography``;
``CaHttpServer`` is a loopback HTTP server whose routes a test sets and changes while it runs
(a CRL, an OCSP responder that answers each request, an ACME directory with ``renewalInfo``),
plus misbehaving routes: one that never answers, one that redirects elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from lab.certs import Issued, make_cert


@dataclass(frozen=True)
class Revoked:
    """One entry of a CRL."""

    serial: int
    when: datetime
    reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise


def make_crl(
    issuer: Issued,
    revoked: Sequence[Revoked] = (),
    *,
    now: datetime | None = None,
    next_update: datetime | None = None,
    number: int | None = 1,
    number_critical: bool = False,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """A DER CRL signed by ``issuer``: issued an hour ago, next update in a week unless given."""
    now = now or datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(next_update or now + timedelta(days=7))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=number_critical)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    for entry in revoked:
        item = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.when)
        if entry.reason is not None:
            item = item.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def tampered(der: bytes) -> bytes:
    """The same bytes with one bit of the signature (the last byte) flipped."""
    return der[:-1] + bytes([der[-1] ^ 0x01])


def ocsp_answer(
    request: bytes,
    issuer: Issued,
    statuses: dict[int, tuple[ocsp.OCSPCertStatus, datetime | None, x509.ReasonFlags | None]],
    *,
    responder: Issued | None = None,
    now: datetime | None = None,
) -> bytes:
    """The DER response to an OCSP ``request``: the status ``statuses`` holds for its serial (unknown if none).

    Signed by ``issuer``, or by a delegated ``responder`` (whose certificate goes in the response).
    """
    now = now or datetime.now(UTC)
    asked = ocsp.load_der_ocsp_request(request)
    status, when, reason = statuses.get(asked.serial_number, (ocsp.OCSPCertStatus.UNKNOWN, None, None))
    signer = responder or issuer
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=asked.issuer_name_hash,
        issuer_key_hash=asked.issuer_key_hash,
        serial_number=asked.serial_number,
        algorithm=asked.hash_algorithm,
        cert_status=status,
        this_update=now - timedelta(minutes=30),
        next_update=now + timedelta(days=3),
        revocation_time=when,
        revocation_reason=reason,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
    if responder is not None:
        builder = builder.certificates([responder.cert])
    answer = builder.sign(signer.key, hashes.SHA256())
    return answer.public_bytes(serialization.Encoding.DER)


def ocsp_responder_cert(issuer: Issued, *, signing: bool = True, now: datetime | None = None) -> Issued:
    """A delegated OCSP responder's certificate from ``issuer``: the OCSPSigning EKU, unless not ``signing``."""
    usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING if signing else ExtendedKeyUsageOID.CLIENT_AUTH])
    return make_cert("certwatch Test OCSP Responder", issuer=issuer, sans=[], extensions=[(usage, False)], now=now)


def revocation_extensions(crl: str | None = None, ocsp_url: str | None = None) -> list[tuple[x509.ExtensionType, bool]]:
    """A leaf's CRL distribution point and OCSP responder, as ``make_cert(extensions=...)`` takes them."""
    found: list[tuple[x509.ExtensionType, bool]] = []
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        found.append((x509.CRLDistributionPoints([point]), False))
    if ocsp_url:
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))
        found.append((x509.AuthorityInformationAccess([access]), False))
    return found


Route = Callable[[str, bytes], tuple[int, dict[str, str], bytes]]


@dataclass
class Hits:
    """Requests the server received, by path."""

    paths: list[str] = field(default_factory=list)

    def count(self, path: str) -> int:
        return sum(p == path for p in self.paths)


class CaHttpServer:
    """A CA's HTTP side on 127.0.0.1: ``routes`` maps a path to bytes, or to a function of (method, body).

    ``silent`` paths accept the request and never answer; ``dripping`` paths send a 200's headers,
    then one byte of body every so many seconds, forever; ``redirects`` maps a path to a Location.
    """

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Route] = {}
        self.silent: set[str] = set()
        self.dripping: dict[str, float] = {}  # path -> seconds between bytes
        self.redirects: dict[str, str] = {}
        self.hits = Hits()
        self._stopped = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self, "GET")

            def do_POST(self) -> None:
                owner._answer(self, "POST")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="lab-ca-http", daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _drip(self, request: BaseHTTPRequestHandler, interval: float) -> None:
        request.send_response(200)
        request.send_header("Content-Length", "50000")  # within every cap: only time ends it
        request.end_headers()
        while not self._stopped.wait(interval):
            try:
                request.wfile.write(b"\x30")
            except OSError:  # the client gave up
                return

    def _answer(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = request.path
        self.hits.paths.append(path)
        size = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(size) if size else b""
        if path in self.silent:
            self._stopped.wait(30)
            return
        if path in self.dripping:
            self._drip(request, self.dripping[path])
            return
        if path in self.redirects:
            request.send_response(302)
            request.send_header("Location", self.redirects[path])
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        route = self.routes.get(path)
        headers: dict[str, str] = {}
        if route is None:
            status, payload = 404, b"not found"
        elif isinstance(route, bytes):
            status, payload = 200, route
        else:
            status, headers, payload = route(method, body)
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        if "Content-Length" not in headers:  # a route may declare a length of its own, to fall short of it
            request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
