"""RDAP over HTTP: a domain's registration expiry from its registry's server (RFC 9082 queries).

The server is found in IANA's DNS bootstrap registry (RFC 9224), shipped in the package
(``chalicelib/data/rdap-dns.json``, its publication date inside) rather than fetched at run
time; CERTWATCH_RDAP_SERVERS puts servers of its own over it. The query is
``GET <base>domain/<name>`` with ``Accept: application/rdap+json``, through the fetcher's address
policy as CRL fetches are.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Protocol

from chalicelib.domain.rdap import Bootstrap, expiration, read_bootstrap, server_table
from chalicelib.errors import FetchError, RateLimitedError

BOOTSTRAP_FILE = Path(__file__).resolve().parent.parent / "data" / "rdap-dns.json"
MAX_ANSWER_BYTES = 1024 * 1024
_HEADERS = {"Accept": "application/rdap+json, application/json", "User-Agent": "certwatch (domain registration)"}


class Fetcher(Protocol):
    def answer(self, url: str, *, max_bytes: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """GET ``url``: status, headers (names in lower case), body; FetchError when nothing came back."""


@cache
def shipped_bootstrap() -> Bootstrap:
    """IANA's DNS bootstrap file as shipped in the package."""
    return read_bootstrap(BOOTSTRAP_FILE.read_bytes())


class RdapClient:
    """A RegistrationSource (services/ports.py) over RDAP."""

    def __init__(self, fetcher: Fetcher, *, servers: str = "", bootstrap: Bootstrap | None = None) -> None:
        self._fetcher = fetcher
        base = bootstrap or shipped_bootstrap()
        self._bootstrap = base.over(server_table(servers)) if servers else base

    def expiration(self, domain: str) -> datetime | None:
        server = self._bootstrap.server_for(domain)
        if server is None:
            raise FetchError(f"no RDAP server for {domain} in the bootstrap registry")
        status, headers, body = self._fetcher.answer(
            f"{server}domain/{domain}", max_bytes=MAX_ANSWER_BYTES, headers=_HEADERS
        )
        if status == 429:
            wait = headers.get("retry-after", "")
            raise RateLimitedError("the RDAP server asks to wait (HTTP 429)", int(wait) if wait.isdigit() else 3600)
        if status == 404:
            raise FetchError(f"the registry's RDAP server does not know {domain} (is it the registered domain?)")
        if status != 200:
            raise FetchError(f"the RDAP server answered HTTP {status}")
        try:
            return expiration(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError(f"the RDAP answer cannot be read: {exc}") from exc
