"""The watched-domain demo of ``make run``: the local stack's CT and RDAP stand-ins, over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.tokens import issue
from lab.domaindemo import DEMO_DOMAIN, ISSUER
from tests.support.localstack import Stack, free_ports, local_stack

DELIVERY_TIMEOUT = 30.0


def _until(stack: Stack, path: str, done: Any, timeout: float = DELIVERY_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = stack.call("GET", path)
        assert status == 200, body
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_the_demo_domain_tells_its_events_and_a_registered_endpoint_is_renewed_not_deployed() -> None:
    token = issue("local", admin=True, now=datetime.now(UTC))[0]
    with local_stack(free_ports(), token) as stack:
        assert "Watched domains (Cert Spotter's API and an RDAP server stood in" in stack.output
        status, watched = stack.call("POST", "/domains", {"domain": DEMO_DOMAIN, "allowed_issuers": [ISSUER]})
        assert status == 201, watched

        stack.wait_for_output(f"Subject: [certwatch] CRITICAL {DEMO_DOMAIN} unexpected certificate", DELIVERY_TIMEOUT)
        stack.wait_for_output(f"Subject: [certwatch] WARNING {DEMO_DOMAIN} the registration of", DELIVERY_TIMEOUT)
        swept = _until(stack, f"/domains/{watched['id']}", lambda d: d["swept_at"] is not None)
        port = stack.output.split('"target": "tls://127.0.0.1:')[1].split('"')[0]
        status, target = stack.call(
            "POST", "/targets", {"target": f"tls://127.0.0.1:{port}", "sni": f"www.{DEMO_DOMAIN}"}
        )
        assert status == 201, target
        checked = _until(
            stack,
            f"/targets/{target['id']}",
            lambda t: "RENEWED_NOT_DEPLOYED" in ((t["latest"] or {}).get("codes") or []),
        )
        rows = stack.call("GET", "/certificates?source=domain")[1]["items"]
        exit_status = stack.interrupt()

    assert "legacy.shop.test" in swept["unwatched"]
    assert [f["code"] for f in swept["findings"]] == ["DOMAIN_EXPIRING"]
    assert "RENEWED_NOT_DEPLOYED" in checked["latest"]["codes"], checked
    assert {name for row in rows for name in row["sans"]} >= {"legacy.shop.test", "login.shop.test"}
    assert exit_status == 0
