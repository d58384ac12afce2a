"""SSLMate's Cert Spotter API (v1) as a CT source: the issuances for a domain, after a cursor.

``GET /v1/issuances?domain=D&include_subdomains=..&match_wildcards=true&expand=dns_names&expand=issuer
&expand=cert&after=ID`` answers a JSON array of issuance objects in the order Cert Spotter
discovered them; the next page is asked with the last one's ``id`` as ``after``, until an empty
array. Cert Spotter has already made a precertificate and its certificate one issuance; the
``cert`` object is the certificate when known, else the precertificate (``type``), and its
DER (``data``) gives the serial. An API key (``Authorization: Bearer``) raises the rate limits;
without one the API answers a few queries an hour. A 429 carries Retry-After: the sweep stops
there and the domain is due again after it, keeping what it read.

Every request goes through the fetcher's address policy, as CRL fetches do; what the server
answers is hostile input: a malformed issuance is skipped and named, never a failed sweep.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from chalicelib.domain.domains import Issuance, IssuancePage
from chalicelib.errors import FetchError, RateLimitedError

logger = logging.getLogger(__name__)

MAX_PAGES = 20  # per domain and sweep: the cursor carries on at the next sweep
MAX_PAGE_BYTES = 16 * 1024 * 1024
EXPAND = ("dns_names", "issuer", "cert")
# Beyond what a publicly trusted certificate holds (the CA/B Forum caps nothing, CAs about 100-250
# names): an answer over these is not kept, so one item stays within DynamoDB's 400 KB.
MAX_NAMES = 1000
MAX_ISSUER = 1024
_AGENT = "certwatch (watched domains; Certificate Transparency)"


class Fetcher(Protocol):
    """What this adapter needs of checks.fetcher.UrlFetcher (the address policy, caps, a deadline)."""

    def answer(self, url: str, *, max_bytes: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """GET ``url``: status, headers (names in lower case), body; FetchError when nothing came back."""


class CertSpotter:
    """The issuances API; ``api_key`` gives the key (None: unauthenticated), read when a sweep asks."""

    def __init__(
        self,
        fetcher: Fetcher,
        base_url: str,
        *,
        api_key: Callable[[], str | None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetcher = fetcher
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._clock = clock

    def issuances(self, domain: str, *, include_subdomains: bool, after: str | None) -> IssuancePage:
        headers = {"Accept": "application/json", "User-Agent": _AGENT}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        found: list[Issuance] = []
        cursor = after
        for _ in range(MAX_PAGES):
            status, answer_headers, body = self._fetcher.answer(
                self._url(domain, include_subdomains, cursor), max_bytes=MAX_PAGE_BYTES, headers=headers
            )
            if status == 429:
                wait = _retry_after(answer_headers.get("retry-after"), self._clock())
                if not found:
                    raise RateLimitedError(f"Cert Spotter asks to wait {wait}s (HTTP 429)", wait)
                return IssuancePage(tuple(found), cursor, retry_after=wait)
            if status != 200:
                raise FetchError(f"Cert Spotter answered HTTP {status}{_error_text(body)}")
            page = _read_page(body)
            if not page:
                break
            found += [i for i in (_issuance(item) for item in page) if i is not None]
            last = page[-1].get("id") if isinstance(page[-1], dict) else None
            if not isinstance(last, str) or not last or last == cursor:
                raise FetchError("Cert Spotter's page ends with no new issuance id: the cursor cannot move on")
            cursor = last
        return IssuancePage(tuple(found), cursor)

    def _url(self, domain: str, include_subdomains: bool, after: str | None) -> str:
        query: list[tuple[str, str]] = [
            ("domain", domain),
            ("include_subdomains", "true" if include_subdomains else "false"),
            ("match_wildcards", "true"),
            *(("expand", field) for field in EXPAND),
        ]
        if after:
            query.append(("after", after))
        return f"{self._base}/v1/issuances?{urlencode(query)}"


def _read_page(body: bytes) -> list[Any]:
    try:
        page = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError("Cert Spotter's answer is not JSON") from exc
    if not isinstance(page, list):
        raise FetchError("Cert Spotter's answer is not a JSON array of issuances")
    return page


def _issuance(item: object) -> Issuance | None:
    """One issuance object; None (logged) when it lacks what certwatch needs."""
    try:
        if not isinstance(item, dict):
            raise ValueError("not an object")
        issuer = item.get("issuer") or {}
        cert = item.get("cert") or {}
        names = item.get("dns_names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) and len(n) <= 255 for n in names):
            raise ValueError("dns_names is not a list of names")
        if len(names) > MAX_NAMES or len(str(issuer.get("name") or "")) > MAX_ISSUER:
            raise ValueError("more names, or a longer issuer, than a certificate has")
        return Issuance(
            id=str(item["id"]),
            tbs_sha256=_sha256(item["tbs_sha256"]),
            dns_names=tuple(n.lower() for n in names),
            pubkey_sha256=_sha256(item["pubkey_sha256"]),
            issuer=str(issuer.get("name") or ""),
            not_before=_moment(item["not_before"]),
            not_after=_moment(item["not_after"]),
            serial=_serial(cert.get("data")),
            cert_sha256=_sha256(cert["sha256"]) if cert.get("sha256") else None,
            precert=cert.get("type") == "precert",
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        logger.warning("a Cert Spotter issuance was skipped: %s", exc)
        return None


def _sha256(value: object) -> str:
    """A hex SHA-256 as the API gives it (it becomes part of a stored key): 64 hex digits, else refused."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value.lower()):
        raise ValueError("a SHA-256 is not 64 hex digits")
    return value.lower()


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _serial(data: object) -> str | None:
    if not isinstance(data, str):
        return None
    from cryptography import x509  # loaded by the first issuance that carries its certificate

    try:
        return format(x509.load_der_x509_certificate(base64.b64decode(data, validate=True)).serial_number, "x")
    except (ValueError, binascii.Error):
        return None


def _moment(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("a date is not text")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _retry_after(value: str | None, now: datetime) -> int:
    """Retry-After's seconds (RFC 9110 10.2.3: a number of seconds, or an HTTP date); an hour when absent."""
    if value is None:
        return 3600
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        return max(0, int((parsedate_to_datetime(text) - now).total_seconds()))
    except (TypeError, ValueError):
        return 3600


def _error_text(body: bytes) -> str:
    """Cert Spotter's error object (``{"code", "message"}``) as a few words, when it sent one."""
    try:
        error = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f": {error['message'][:200]}"
    return ""
