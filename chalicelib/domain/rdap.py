"""RDAP, read: which registry's server answers for a domain (RFC 9224) and when its registration ends (RFC 9083).

The bootstrap registry maps label sequences (``com``, ``co.uk``) to base URLs; the longest
sequence a name ends with wins (RFC 9224 section 4), and an ``https`` URL is taken before an
``http`` one. A domain object's ``events`` carry ``eventAction`` / ``eventDate`` pairs; the
registration ends at the ``expiration`` event (RFC 9083 section 4.5, the values of RFC 8056's
registry). Parsing is strict about shape and lenient about what it does not need.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """The DNS bootstrap registry: its publication date, and each label sequence's base URLs."""

    publication: str
    services: Mapping[str, tuple[str, ...]]

    def server_for(self, domain: str) -> str | None:
        """The base URL of the RDAP server for ``domain`` (ending in ``/``), or None when no entry covers it."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            urls = self.services.get(".".join(labels[start:]))
            if urls:
                chosen = next((u for u in urls if u.startswith("https://")), urls[0])
                return chosen if chosen.endswith("/") else chosen + "/"
        return None

    def over(self, servers: Mapping[str, str]) -> Bootstrap:
        """This registry with ``servers`` (label sequence -> base URL) put first."""
        merged = dict(self.services) | {k.lower().strip("."): (v,) for k, v in servers.items()}
        return Bootstrap(self.publication, merged)


def read_bootstrap(text: str | bytes) -> Bootstrap:
    """RFC 9224's JSON (``{"version", "publication", "services": [[[labels...], [urls...]], ...]}``)."""
    try:
        document = json.loads(text)
        services: dict[str, tuple[str, ...]] = {}
        for entry in document["services"]:
            labels, urls = entry[0], entry[1]
            for label in labels:
                services[str(label).lower().strip(".")] = tuple(str(u) for u in urls)
        return Bootstrap(str(document.get("publication", "")), services)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not an RDAP bootstrap file (RFC 9224): {exc}") from exc


def server_table(text: str) -> dict[str, str]:
    """CERTWATCH_RDAP_SERVERS: a JSON object of label sequences (``"com"``, ``"co.uk"``) to http(s) base URLs."""
    try:
        table = json.loads(text)
    except ValueError:
        raise ValueError("not JSON; a JSON object of TLD to RDAP base URL") from None
    if not isinstance(table, dict) or not table:
        raise ValueError("a JSON object of TLD to RDAP base URL")
    for label, url in table.items():
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"{label!r} names no http(s) URL")
    return {str(k): str(v) for k, v in table.items()}


def expiration(document: object) -> datetime | None:
    """The ``expiration`` event's date of an RDAP domain object, in UTC; None when it has none."""
    if not isinstance(document, dict):
        raise ValueError("the RDAP answer is not a JSON object")
    if document.get("objectClassName") not in (None, "domain"):
        raise ValueError(f"the RDAP answer is a {document.get('objectClassName')!r}, not a domain")
    events = document.get("events") or []
    if not isinstance(events, list):
        raise ValueError("the RDAP answer's events are not a list")
    for event in events:
        if isinstance(event, dict) and event.get("eventAction") == "expiration":
            return _moment(event.get("eventDate"))
    return None


def _moment(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("the expiration event has no eventDate")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"the expiration event's date {text[:40]!r} is not RFC 3339") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
