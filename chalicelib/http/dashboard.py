"""The inventory page (``GET /dashboard``): one HTML document with its style and script inline.

The page holds no data: it asks for a token and reads the API with it, from the same origin.
Its Content-Security-Policy allows only the exact style and script served with it (by their
SHA-256) and requests to the API itself, so the page loads nothing from anywhere else.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from chalice.app import Response

STATIC = Path(__file__).parent / "static"
STYLE_MARK = "/* style */"
SCRIPT_MARK = "/* script */"


@dataclass(frozen=True)
class Page:
    """The assembled document and the policy that admits exactly its inline style and script."""

    html: str
    policy: str


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def page() -> Page:
    """The page, read and assembled once per container."""
    template = (STATIC / "dashboard.html").read_text()
    style = (STATIC / "dashboard.css").read_text()
    script = (STATIC / "dashboard.js").read_text()
    html = template.replace(STYLE_MARK, style, 1).replace(SCRIPT_MARK, script, 1)
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_digest(script)}",
            f"style-src {_digest(style)}",
            "connect-src 'self'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return Page(html, policy)


def response() -> Response:
    """``GET /dashboard``'s answer: the page with its security headers."""
    built = page()
    return Response(
        body=built.html,
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": built.policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )
