"""Loopback stand-ins for the outside systems a watched domain is read from: Cert Spotter's API and RDAP.

``CertSpotterStandIn`` answers ``GET /v1/issuances`` as SSLMate's API v1 documentation says:
a JSON array of issuance objects in the order they were discovered, ``after`` an issuance id,
an empty array past the last one; ``domain`` (repeatable), ``include_subdomains``,
``match_wildcards``, ``expired`` (unexpired only by default) and ``expand`` (``dns_names``,
``issuer``, ``cert``: left out unless asked for). A precertificate and its certificate are one
issuance, its ``cert`` the certificate once known, else the precertificate. Errors are JSON
objects with ``code`` and ``message``; ``throttle`` makes the next requests answer 429 with
Retry-After, and ``api_key`` makes it refuse requests without ``Authorization: Bearer <key>``.

``RdapStandIn`` answers ``GET /domain/<name>`` with an RFC 9083 domain object (its
``registration`` and ``expiration`` events), and an RFC 9083 error object (404) for a name it
does not hold.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.certs import Issued

PAGE_SIZE = 100


def _spki_sha256(cert: x509.Certificate) -> str:
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _issuer_name(cert: x509.Certificate) -> str:
    """The issuer's name as Cert Spotter writes it: ``C=US, O=Example CA, CN=Example R1``."""
    return ", ".join(reversed(cert.issuer.rfc4514_string().split(",")))


@dataclass
class _Entry:
    id: str
    tbs_sha256: str
    cert: x509.Certificate
    der: bytes
    precert: bool
    issuer_spki_sha256: str | None


@dataclass
class _Throttle:
    times: int = 0
    retry_after: int = 60
    after: int = 0  # requests answered as usual first


class _Http:
    """A ThreadingHTTPServer on 127.0.0.1 calling ``answer(request) -> (status, headers, body)``."""

    def __init__(self, name: str) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = owner.answer(self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _json(status: int, document: object, content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": content_type}, json.dumps(document).encode()


class CertSpotterStandIn(_Http):
    """Cert Spotter's issuances API on loopback (see the module's docstring)."""

    def __init__(self, *, page_size: int = PAGE_SIZE, api_key: str | None = None) -> None:
        super().__init__("lab-certspotter")
        self.page_size = page_size
        self.api_key = api_key
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()
        self._throttle = _Throttle()
        self.authorizations: list[str | None] = []
        self.now: datetime | None = None  # None: the real clock decides what has expired

    def add(self, issued: Issued, *, precert: bool = False, issuer: Issued | None = None) -> str:
        """Log a certificate (or precertificate); one with the issuer and serial of an earlier one is that
        issuance (its certificate, once known, replaces the precertificate). Returns the issuance's id."""
        cert = issued.cert
        with self._lock:
            for entry in self._entries:
                if entry.cert.issuer == cert.issuer and entry.cert.serial_number == cert.serial_number:
                    if entry.precert and not precert:
                        entry.cert, entry.der, entry.precert = cert, issued.der, False
                    return entry.id
            entry_id = str(4_000_000 + len(self._entries) * 7)
            tbs = _tbs_hash(cert)
            spki = None if issuer is None else _spki_sha256(issuer.cert)
            self._entries.append(_Entry(entry_id, tbs, cert, issued.der, precert, spki))
            return entry_id

    def throttle(self, times: int, retry_after: int = 60, *, after: int = 0) -> None:
        """Answer ``times`` requests 429, with ``Retry-After: retry_after``: the next ones, or those after the
        next ``after`` (a limit met in the middle of the pages)."""
        with self._lock:
            self._throttle = _Throttle(times, retry_after, after)

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(request.path)
        authorization = request.headers.get("Authorization")
        self.authorizations.append(authorization)
        split = urlsplit(request.path)
        if split.path != "/v1/issuances":
            return _json(404, {"code": "not_found", "message": "No such endpoint"})
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return _json(401, {"code": "unauthorized", "message": "Invalid API key"})
        with self._lock:
            if self._throttle.after > 0:
                self._throttle.after -= 1
            elif self._throttle.times > 0:
                self._throttle.times -= 1
                wait = self._throttle.retry_after
                status, headers, body = _json(429, {"code": "rate_limited", "message": "Rate limit exceeded"})
                return status, {**headers, "Retry-After": str(wait)}, body
        query = parse_qs(split.query)
        domains = query.get("domain", [])
        if not domains or len(domains) > 10:
            return _json(400, {"code": "invalid_domain", "message": "Specify 1-10 domain parameters"})
        subdomains = _flag(query, "include_subdomains")
        wildcards = _flag(query, "match_wildcards")
        expired = _flag(query, "expired")
        expand = set(query.get("expand", []))
        after = query.get("after", [""])[0]
        now = self.now or datetime.now(UTC)
        with self._lock:
            entries = list(self._entries)
        start = next((i + 1 for i, e in enumerate(entries) if e.id == after), 0) if after else 0
        chosen = [
            e
            for e in entries[start:]
            if (expired or e.cert.not_valid_after_utc > now)
            and any(_matches(name, d.lower(), subdomains, wildcards) for name in _names(e.cert) for d in domains)
        ]
        return _json(200, [self._issuance(e, expand) for e in chosen[: self.page_size]])

    def _issuance(self, entry: _Entry, expand: set[str]) -> dict[str, Any]:
        cert = entry.cert
        found: dict[str, Any] = {
            "id": entry.id,
            "tbs_sha256": entry.tbs_sha256,
            "pubkey_sha256": _spki_sha256(cert),
            "not_before": _rfc3339(cert.not_valid_before_utc),
            "not_after": _rfc3339(cert.not_valid_after_utc),
            "revoked": False,
        }
        if "dns_names" in expand:
            found["dns_names"] = _names(cert)
        if "issuer" in expand:
            found["issuer"] = {"name": _issuer_name(cert), "pubkey_sha256": entry.issuer_spki_sha256}
        if "cert" in expand:
            found["cert"] = {
                "id": f"c{entry.id}",
                "type": "precert" if entry.precert else "cert",
                "sha256": hashlib.sha256(entry.der).hexdigest(),
                "data": base64.b64encode(entry.der).decode(),
            }
        return found


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[0] == "true"


def _names(cert: x509.Certificate) -> list[str]:
    """DNS names from the subject CN and the DNS SANs, as Cert Spotter takes them."""
    names = [a.value for a in cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)]
    with contextlib.suppress(x509.ExtensionNotFound):
        names += cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    return sorted({str(n).lower() for n in names})


def _matches(name: str, domain: str, subdomains: bool, wildcards: bool) -> bool:
    if name == domain or (subdomains and name.endswith("." + domain)):
        return True
    return wildcards and name.startswith("*.") and domain.partition(".")[2] == name[2:]


def _tbs_hash(cert: x509.Certificate) -> str:
    """The issuance's ``tbs_sha256``. RFC 6962 3.2 hashes the TBS without the poison and SCT extensions,
    the same for a precertificate and its certificate; the stand-in hashes what both share that
    defines the TBS for one CA (its issuer and serial), so a pair minted here hashes alike too."""
    return hashlib.sha256(f"{cert.issuer.rfc4514_string()}|{cert.serial_number}".encode()).hexdigest()


class RdapStandIn(_Http):
    """A registry's RDAP server on loopback: ``expirations`` maps a domain to when its registration ends."""

    def __init__(self, expirations: dict[str, datetime] | None = None) -> None:
        super().__init__("lab-rdap")
        self.expirations = dict(expirations or {})

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(request.path)
        path = urlsplit(request.path).path
        name = path.removeprefix("/domain/").lower().rstrip(".")
        ends = self.expirations.get(name) if path.startswith("/domain/") else None
        if ends is None:
            error = {"errorCode": 404, "title": "Not Found", "description": [f"{name} is not registered here"]}
            return _json(404, error, "application/rdap+json")
        document = {
            "objectClassName": "domain",
            "ldhName": name.upper(),
            "rdapConformance": ["rdap_level_0"],
            "status": ["active"],
            "events": [
                {"eventAction": "registration", "eventDate": "2015-03-01T12:00:00Z"},
                {"eventAction": "expiration", "eventDate": _rfc3339(ends)},
                {"eventAction": "last update of RDAP database", "eventDate": _rfc3339(datetime.now(UTC))},
            ],
        }
        return _json(200, document, "application/rdap+json")
