"""Webhook destinations and the Standard Webhooks signature: pure rules, no I/O.

A destination is where events are POSTed, in one of three formats: ``generic`` (the v1 event
document, signed as Standard Webhooks 1.0 specifies), ``pagerduty`` (Events API v2, with the
service's routing key) or ``teams`` (an Adaptive Card to a Microsoft Teams Workflows URL).
Its filters (team, minimum severity, event types) decide which events it gets.

The signature (Standard Webhooks 1.0, "Signature scheme" and "Webhook headers"): the secret is
``whsec_`` and the base64 of at least 24 random bytes; each request carries ``webhook-id`` (the
same for every attempt of one event), ``webhook-timestamp`` (the attempt's Unix time) and
``webhook-signature: v1,<base64 of HMAC-SHA256(secret bytes, "<id>.<timestamp>.<body>")>``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import ipaddress
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.alerts import CLOSING, EventType
from chalicelib.domain.endpoints import normalize_hostname
from chalicelib.domain.models import Severity
from chalicelib.errors import InvalidTargetError, InvalidValueError

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32  # the specification asks for 24 to 64
_MIN_SECRET_BYTES = 24
_ID = re.compile(r"wh_[0-9a-f]{12}")
_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{20,64}")  # PagerDuty integration keys are 32 such characters


class Format(enum.StrEnum):
    """What a destination receives."""

    GENERIC = "generic"
    PAGERDUTY = "pagerduty"
    TEAMS = "teams"


class Claim(enum.StrEnum):
    """What claiming the delivery of one event to one destination found."""

    CLAIMED = "claimed"  # this invocation delivers it
    DELIVERED = "delivered"  # delivered before: a redelivered event
    BUSY = "busy"  # another invocation is delivering it right now


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    """Where to POST. ``text`` is a secret (Teams' URLs carry a signature, others a token): show ``shown``."""

    text: str = field(repr=False)
    scheme: str
    host: str  # a lower-case A-label name, or an address
    port: int
    target: str = field(repr=False)  # path and query: what the request line carries (a secret too)

    @property
    def shown(self) -> str:
        """The URL as it may be printed and logged: scheme and host only."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = {"https": 443, "http": 80}[self.scheme]
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}/…"

    @property
    def host_is_address(self) -> bool:
        return _address(self.host) is not None


@dataclass(frozen=True, slots=True)
class Destination:
    """A registered webhook: its format, URL, secret (signing secret or routing key) and filters."""

    id: str
    format: Format
    url: WebhookUrl
    secret: str = field(default="", repr=False)  # generic: the whsec_ signing secret; pagerduty: the routing key
    team: str | None = None
    min_severity: Severity = Severity.INFO
    types: frozenset[EventType] = frozenset()  # empty: every type
    created_at: datetime | None = None

    def wants(self, team: str, type: EventType, severity: Severity) -> bool:
        """Whether this destination gets an event of ``team``, ``type`` and ``severity`` (filters apply
        before anything is sent).

        PagerDuty gets every renewal and recovery of its team, whatever the other filters say: they
        resolve the incidents it was paged for (resolving one never opened does nothing).
        """
        if self.team is not None and team != self.team:
            return False
        if self.format is Format.PAGERDUTY and type in CLOSING:
            return True
        if severity.rank < self.min_severity.rank:
            return False
        return not self.types or type in self.types


def parse_url(text: str) -> WebhookUrl:
    """Read a destination URL: http(s), a host, no credentials. Messages name the host, never the URL."""
    raw = text.strip()
    try:
        parts = urllib.parse.urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidValueError("the webhook URL cannot be read (a bad port or address?)", field="url") from None
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"}:
        raise InvalidValueError(
            "a webhook URL starts with https:// (or http:// for a receiver on a loopback address)", field="url"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidValueError("a webhook URL carries no user name or password", field="url")
    host = parts.hostname or ""
    if not host:
        raise InvalidValueError("the webhook URL has no host", field="url")
    address = _address(host)
    if address is None:
        try:
            host = normalize_hostname(host, raw=host)
        except InvalidTargetError as exc:
            raise InvalidValueError(str(exc), field="url") from None
    else:
        host = address
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(raw, scheme, host, port or (443 if scheme == "https" else 80), target)


def local_http_only(url: WebhookUrl) -> WebhookUrl:
    """``url``, if it is https, or plain http to this machine by its URL alone: a loopback address or
    ``localhost`` (which RFC 6761 6.3 keeps on loopback). A URL read without DNS is judged so; a
    destination is judged by the addresses its name resolves to (adapters.webhook).
    """
    loopback = url.host == "localhost" or (url.host_is_address and ipaddress.ip_address(url.host).is_loopback)
    if url.scheme == "http" and not loopback:
        raise InvalidValueError(
            f"{url.shown}: plain http:// is only for a receiver on this machine (127.0.0.1, ::1 or localhost); "
            "use https://",
            field="url",
        )
    return url


def new_destination_id() -> str:
    return f"wh_{secrets.token_hex(6)}"


def is_destination_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for; InvalidValueError for what is no such secret."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not secret.startswith(SECRET_PREFIX) or len(key) < _MIN_SECRET_BYTES:
        raise InvalidValueError(
            "a signing secret is whsec_ followed by the base64 of 24 to 64 random bytes", field="secret"
        )
    return key


def check_routing_key(key: str) -> str:
    if not _ROUTING_KEY.fullmatch(key):
        raise InvalidValueError(
            "a PagerDuty routing key is the 32 letters and digits of the service's Events API v2 integration",
            field="routing_key",
        )
    return key


def message_id(event_key: str) -> str:
    """The ``webhook-id`` of an event: the same for every attempt and destination, with no ``.`` in it."""
    return "msg_" + hashlib.sha256(event_key.encode()).hexdigest()[:32]


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def event_types(names: list[str] | None) -> frozenset[EventType]:
    """``--type`` values as event types; InvalidValueError naming the ones there are."""
    try:
        return frozenset(EventType(name) for name in names or ())
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise InvalidValueError(f"unknown event type; the types are: {known}", field="types") from None


def _address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None
