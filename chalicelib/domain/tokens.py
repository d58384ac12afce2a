"""API tokens: one team each, stored only as a SHA-256 hash, compared in constant time.

A token reads ``cw_<id>_<secret>``: the id finds the stored record in one read, the secret
(256 random bits) is what proves possession. A plain SHA-256 suffices for a secret that long;
slow password hashes exist for guessable secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from chalicelib.errors import InvalidValueError, UnauthorizedError

_TOKEN = re.compile(r"cw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# A token's id followed by any part of its secret, even cut short or run into other text.
_TOKEN_SHAPED = re.compile(r"cw_([0-9a-f]{12})_[A-Za-z0-9_-]+")
TEAM_NAME = r"[a-z0-9][a-z0-9_-]{0,63}"  # the whole name must match
_TEAM = re.compile(TEAM_NAME)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What is stored about a token: never the token itself."""

    token_id: str
    team: str
    admin: bool
    secret_hash: str
    created_at: datetime
    name: str = ""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the team a token belongs to, and whether it may act on every team."""

    team: str
    admin: bool
    token_id: str


def validate_team(team: str) -> str:
    if not _TEAM.fullmatch(team):
        raise InvalidValueError(
            f"team {team!r}: use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
            field="team",
        )
    return team


def issue(team: str, *, admin: bool, now: datetime, name: str = "") -> tuple[str, TokenRecord]:
    """A new token (shown once) and the record to store."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = TokenRecord(token_id, validate_team(team), admin, _hash(secret), now, name)
    return f"cw_{token_id}_{secret}", record


def adopt(token: str, team: str, *, admin: bool, now: datetime, name: str = "") -> TokenRecord:
    """The record for a token made elsewhere (the local stack's CERTWATCH_BOOTSTRAP_TOKEN)."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise InvalidValueError("a token looks like cw_<12 hex digits>_<43 URL-safe characters>", field="token")
    return TokenRecord(match[1], validate_team(team), admin, _hash(match[2]), now, name)


def bearer_token(header: str | None) -> tuple[str, str]:
    """The (token id, secret) of an ``Authorization: Bearer <token>`` header; UnauthorizedError otherwise."""
    if not header:
        raise UnauthorizedError("missing Authorization header; send Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("the Authorization header must be: Bearer <token>")
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise UnauthorizedError("invalid token")
    return match[1], match[2]


def principal_of(record: TokenRecord | None, secret: str) -> Principal:
    """The caller the stored ``record`` of a token id names, if ``secret`` is its secret; else UnauthorizedError."""
    # Compare even when the id is unknown, so timing says nothing about which ids exist.
    expected = record.secret_hash if record else _hash("")
    if not hmac.compare_digest(expected, _hash(secret)) or record is None:
        raise UnauthorizedError("invalid or revoked token")
    return Principal(team=record.team, admin=record.admin, token_id=record.token_id)


def pasted_token_id(text: str) -> str | None:
    """The id of a token pasted into ``text`` (a path, a field name), or None when there is none."""
    match = _TOKEN_SHAPED.search(text)
    return match[1] if match else None


def redacted(text: str) -> str:
    """``text`` with every token in it cut to ``cw_<id>_<redacted>``: which token it was, never its secret."""
    return _TOKEN_SHAPED.sub(lambda match: f"cw_{match[1]}_<redacted>", text)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
