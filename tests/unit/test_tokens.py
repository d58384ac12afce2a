"""What is said about a token pasted where it does not belong: which one it was, never its secret."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.tokens import issue, pasted_token_id, redacted

TOKEN, RECORD = issue("web", admin=False, now=datetime(2026, 1, 1, tzinfo=UTC))
SECRET = TOKEN.split("_", 2)[2]


@pytest.mark.parametrize(
    "text",
    [
        f"no target {TOKEN!r}",
        f"/targets/Bearer%20{TOKEN}/check",
        f"unknown column {TOKEN[:30]!r}",  # cut short: still part of the secret
        f"{TOKEN},{TOKEN}",
    ],
    ids=["quoted", "in-a-path", "cut-short", "twice"],  # the token is random: pytest-xdist's workers must agree
)
def test_a_token_anywhere_in_a_text_is_cut_to_its_id(text: str) -> None:
    shown = redacted(text)

    assert SECRET[:10] not in shown
    assert f"cw_{RECORD.token_id}_<redacted>" in shown
    assert pasted_token_id(text) == RECORD.token_id
    assert redacted(shown) == shown


@pytest.mark.parametrize("text", ["no target 'tg_0123456789abcdef0123'", "cw_team", "cw_0123456789ab", "label cw_x_y"])
def test_text_holding_no_token_is_left_as_it_is(text: str) -> None:
    assert redacted(text) == text
    assert pasted_token_id(text) is None
