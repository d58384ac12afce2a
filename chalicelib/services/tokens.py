"""Who is calling: the token of a request's Authorization header, read from the token store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.domain.tokens import Principal, bearer_token, principal_of

if TYPE_CHECKING:
    from chalicelib.services.ports import Tokens


def authenticate(header: str | None, tokens: Tokens) -> Principal:
    """The principal of an ``Authorization: Bearer <token>`` header; UnauthorizedError otherwise."""
    token_id, secret = bearer_token(header)
    return principal_of(tokens.get_token(token_id), secret)
