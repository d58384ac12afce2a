"""GET /dashboard as API Gateway and Chalice's local server serve it: the page, its policy, no token needed.

What the page does in a browser is tests/e2e/test_dashboard_browser.py's subject; this module
checks the document itself and how it travels.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from chalice.test import Client

from app import app
from chalicelib.http.dashboard import page
from tests.support import contract

PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def inline(tag: str, html: str) -> str:
    (body,) = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    return str(body)


def digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


def test_the_page_is_served_to_anyone_with_or_without_a_token(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer cw_nonsense"}):
        answer = client.http.get("/dashboard", headers=headers)

        contract.check("GET", "/dashboard", answer.status_code, contract.decode(answer.body))
        sent = {name.lower(): value for name, value in answer.headers.items()}
        assert answer.status_code == 200
        assert {name: sent.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
        assert answer.body.decode().startswith("<!doctype html>")
    assert app.routes["/dashboard"]["GET"].authorizer is None


def test_the_policy_admits_exactly_the_inline_style_and_script_and_requests_to_the_api(client: Client) -> None:
    answer = client.http.get("/dashboard")
    html = answer.body.decode()
    rules = policy(answer.headers["Content-Security-Policy"])

    assert rules == {
        "default-src": ["'none'"],
        "script-src": [digest(inline("script", html))],
        "style-src": [digest(inline("style", html))],
        "connect-src": ["'self'"],
        "img-src": ["data:"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    assert html.count("<script") == html.count("<style") == 1  # nothing outside the two the policy names


def test_the_page_loads_nothing_from_anywhere() -> None:
    html = page().html

    assert re.findall(r"""\b(?:src|href|action)\s*=\s*["']?([^"'\s>]*)""", html) == ["data:,"]  # the empty icon
    assert "@import" not in html
    assert "url(" not in html


def test_the_token_lives_in_the_tabs_session_storage_only() -> None:
    script = inline("script", page().html)

    assert "sessionStorage" in script
    assert "localStorage" not in script
    assert "cookie" not in script.lower()
    assert 'credentials: "omit"' in script


def _proxy_event(path: str, accept: str) -> dict[str, Any]:
    """API Gateway's REST proxy event for a browser's GET, as a deployment delivers it to the API function."""
    headers = {"Accept": accept, "Host": "abc123.execute-api.eu-west-1.amazonaws.com"}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "r-1",
            "identity": {"sourceIp": "192.0.2.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def test_a_deployment_answers_api_gateway_with_the_page_as_text() -> None:
    """API Gateway passes a text body through; a binary one it would need base64 and binary media types for."""
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

    answer = app(_proxy_event("/dashboard", browser), None)

    assert answer["statusCode"] == 200
    assert answer.get("isBase64Encoded", False) is False  # Chalice leaves the flag out for text
    assert answer["body"] == page().html
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert "text/html" not in app.api.binary_types
