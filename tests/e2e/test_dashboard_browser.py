"""The inventory page (GET /dashboard) in a real headless browser, against the local stack as a process.

Debian's chromium, driven by Playwright, does what a person does: a wrong token, then the right
one; the demo endpoints and an ACM certificate in the table, the header and the timeline; a
target registered through the form with an owner and a runbook (and one the API refuses); a row
opened with the keyboard, its owner and runbook link shown; pause, resume, check now; the filters;
the CSV download against GET /certificates; a deletion with its confirmation; a phone-width screen.
Every request the page makes is recorded: none may go anywhere but the API. Screenshots land in
build/screenshots/ for people to look at.

Another stack holds the issue's case, three certificates behind seven targets (two endpoints serving
one certificate, two another, two that never answer): the page counts certificates and endpoints
apart, groups each certificate's endpoints under it, sorts by any column, filters by its count
chips exactly as `certwatch inventory --status` does, opens a `#certificate=` link, and reads the
API again every minute for as long as it is open (the page's clock is Playwright's, moved forward).
The "Download CBOM" button saves GET /cbom's CycloneDX document of the chains the endpoints served.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from OpenSSL import SSL
from playwright.sync_api import Page, expect, sync_playwright

from certwatch import cli
from chalicelib import deps
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.domains import Issuance
from chalicelib.domain.models import Endpoint
from chalicelib.domain.targets import Target, TargetSpec, new_target_id
from chalicelib.domain.tokens import issue
from chalicelib.presentation.events import page_url
from chalicelib.settings import Settings
from lab.certs import make_cert
from lab.servers import BundledTlsServer, TlsServer
from tests.support.api import Api, NoEndpoints, http_transport, serving_over_http
from tests.support.aws import LocalClients
from tests.support.cadence import BRISK, SLOW, renewing_endpoints
from tests.support.fakes import InMemoryStore, RecordingCheckQueue, RecordingPublisher
from tests.support.localstack import Stack, free_ports, local_stack
from tests.support.net import no_dns
from tests.support.pki import Pki

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
# Playwright's own browser builds cannot be downloaded here: Debian's chromium is driven instead.
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root in CI
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULT_TIMEOUT = 30.0  # seconds for the checker to answer on a busy machine
RUNBOOK = "https://wiki.example.com/runbooks/tls?team=web"  # never opened: the test reaches no outside host


def chromium() -> str:
    """Debian's chromium; the test fails (never skips) without it."""
    path = os.environ.get("CERTWATCH_CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.fail("this test drives Debian's chromium: apt-get install -y chromium (.ci/run installs it)")
    return path


def eventually[T](what: str, probe: Callable[[], T | None], timeout: float = RESULT_TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g}s")
        time.sleep(0.25)


def all_checked(stack: Stack, count: int) -> list[dict[str, Any]] | None:
    status, listed = stack.call("GET", "/targets")
    assert status == 200, listed
    items: list[dict[str, Any]] = listed["items"]
    return items if len(items) == count and all(item["latest"] for item in items) else None


def acm_row(stack: Stack, arn: str) -> dict[str, Any] | None:
    status, listed = stack.call("GET", "/certificates?source=acm")
    assert status == 200, listed
    return next((item for item in listed["items"] if item["id"] == arn), None)


def row(page: Page, name: str) -> Any:
    return page.locator("#inventory tbody tr", has=page.get_by_role("button", name=name, exact=True))


def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


def trouble(kind: str, text: str) -> bool:
    """A console message that means the page broke: a refusal by its own policy, or a script error.

    (The browser also logs every 4xx it receives; those are the API answering, which the test provokes.)
    """
    return "Security Policy" in text or (kind == "error" and "the server responded with a status of 4" not in text)


@pytest.fixture
def token() -> str:
    return issue("local", admin=True, now=datetime.now(UTC))[0]


@contextlib.contextmanager
def browser_page() -> Iterator[Page]:
    """A 1280×800 tab of Debian's chromium (fails the test, inside it, when chromium is missing)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
            yield context.new_page()
        finally:
            browser.close()


def test_the_inventory_page_in_a_browser(token: str, tmp_path: Path) -> None:
    with browser_page() as page:
        drive(page, token, tmp_path)


def drive(page: Page, token: str, tmp_path: Path) -> None:
    expect.set_options(timeout=RESULT_TIMEOUT * 1000)
    ports = free_ports()
    expiring, healthy, expired = (f"tls://127.0.0.1:{ports.demo + offset}" for offset in range(3))
    now = datetime.now(UTC)
    held = make_cert("imported.local.test", not_before=now - timedelta(days=30), not_after=now + timedelta(days=40.5))
    requests: list[str] = []
    troubles: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
    page.on("console", lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None)

    with local_stack(ports, token) as stack:
        for target in (expiring, expired):
            status, created = stack.call("POST", "/targets", {"target": target, "labels": {"env": "demo"}})
            assert status == 201, created
        acm = boto3.client(
            "acm",
            endpoint_url=f"http://127.0.0.1:{ports.aws}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        arn = acm.import_certificate(Certificate=held.pem, PrivateKey=held.key_pem)["CertificateArn"]
        checked = eventually("both demo endpoints checked", lambda: all_checked(stack, 2))
        (soonest,) = [item for item in checked if item["target"] == expiring]
        held_row = eventually("the ACM certificate in the inventory", lambda: acm_row(stack, arn))

        # A wrong token: the API's own message, and nothing kept.
        page.goto(f"{stack.url}/dashboard")
        _, refused = stack.call("GET", "/targets?limit=500", token="cw_nonsense")
        page.get_by_label("API token").fill("cw_nonsense")
        page.get_by_role("button", name="Open").click()
        expect(page.locator("#login-error")).to_have_text(f"The API refused the token: {refused['error']['message']}")
        assert page.evaluate("sessionStorage.getItem('certwatch.token')") is None
        shot(page, "dashboard-wrong-token")

        # The right token: header, timeline and table.
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Open").click()
        expect(row(page, expiring)).to_contain_text("Critical")
        expect(row(page, expired)).to_contain_text("EXPIRED")
        expect(row(page, "imported.local.test")).to_contain_text("ACM")
        expect(page.locator("#verdict")).to_have_text("Not safe: 2 certificates need attention")
        expect(page.locator("#next-expiry")).to_contain_text(
            f"Next expiry: localhost ({expiring}) in {soonest['latest']['days_left']} days"
        )
        expect(page.locator("#next-expiry")).to_contain_text("1 certificate already expired")
        assert page.locator("#inventory tbody tr").all_inner_texts()[0].startswith("✖ Critical")
        bars = page.locator("#timeline svg rect")
        assert sorted(bars.evaluate_all("rects => rects.map(r => r.dataset.status)")) == sorted(
            ["critical", "critical", held_row["status"]]
        )
        timeline = page.locator("#timeline-table tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))"
        )
        assert timeline[0] == ["already expired", "1", "0", "0", "0"]  # week, critical, error, warning, ok
        assert len(timeline) == 3, timeline
        assert page.evaluate("sessionStorage.getItem('certwatch.token')") == token
        assert token not in page.url
        assert page.context.cookies() == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        shot(page, "dashboard-1280")

        # Register through the form: first what the API refuses, with the API's own message.
        page.get_by_text("Watch an endpoint").click()  # the form folds away until asked for
        form = page.locator("#register-form")
        _, bad = stack.call("POST", "/targets", {"target": "gopher://nope.example.com"})
        form.get_by_label("Target").fill("gopher://nope.example.com")
        form.get_by_role("button", name="Register").click()
        expect(page.locator("#register-result")).to_have_text(
            f"Not registered: {bad['error']['message']} (field: {bad['error']['field']})"
        )
        form.get_by_label("Target").fill(healthy)
        form.get_by_label("Labels").fill("env=lab;owner=web")
        form.get_by_label("Owner").fill("web-oncall@example.com")
        form.get_by_label("Runbook URL").fill(RUNBOOK)
        form.get_by_role("button", name="Register").click()
        expect(page.locator("#register-result")).to_contain_text(f"Registered {healthy}")
        expect(row(page, healthy)).to_contain_text("✔ OK")  # the page looks again until the result is in
        expect(row(page, healthy)).to_contain_text("env=lab")
        expect(row(page, healthy)).to_contain_text("certwatch Local Demo Intermediate")
        (created,) = [item for item in stack.call("GET", "/targets")[1]["items"] if item["target"] == healthy]
        assert created["labels"] == {"env": "lab", "owner": "web"}
        assert (created["owner"], created["runbook_url"]) == ("web-oncall@example.com", RUNBOOK)

        # Its full result, opened from the keyboard.
        page.get_by_role("button", name=healthy, exact=True).focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        expect(dialog.locator("h2")).to_have_text(healthy)
        expect(dialog).to_contain_text("Chain as served, leaf first")
        expect(dialog).to_contain_text("Address 127.0.0.1")
        expect(dialog).to_contain_text("issued by certwatch Local Demo Intermediate")
        expect(dialog).to_contain_text("Trusted byCN=certwatch Local Demo Root")
        expect(dialog.locator("dl.facts").first).to_contain_text("Ownerweb-oncall@example.com")
        runbook = dialog.get_by_role("link", name=RUNBOOK)
        expect(runbook).to_have_attribute("href", RUNBOOK)
        expect(runbook).to_have_attribute("rel", "noopener noreferrer")
        shot(page, "dashboard-detail")
        dialog.get_by_role("button", name="Pause").click()
        expect(dialog.locator("#detail-message")).to_have_text("Paused: no checks, no alerts.")
        assert stack.call("GET", f"/targets/{created['id']}")[1]["paused"] is True
        expect(row(page, healthy)).to_contain_text("paused")
        dialog.get_by_role("button", name="Resume").click()
        expect(dialog.locator("#detail-message")).to_have_text("Resumed.")
        assert stack.call("GET", f"/targets/{created['id']}")[1]["paused"] is False
        before = stack.call("GET", f"/targets/{created['id']}")[1]["latest"]["checked_at"]
        dialog.get_by_role("button", name="Check now").click()
        expect(dialog.locator("#detail-message")).to_have_text("Checked just now.")
        assert stack.call("GET", f"/targets/{created['id']}")[1]["latest"]["checked_at"] >= before
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("button", name="Refresh")).to_be_enabled()  # the page has read the API again

        # The findings with their messages, for the expired one.
        page.get_by_role("button", name=expired, exact=True).click()
        expect(dialog).to_contain_text("EXPIRED: the certificate expired on")
        expect(dialog.locator("dl.facts").first).to_contain_text(re.compile(r"Expired\d+ days? agoExpired on"))
        expect(dialog.locator("dl.facts").first).not_to_contain_text("Days left")
        dialog.get_by_role("button", name="Close").click()

        # Filters.
        shown = page.locator("#inventory tbody tr")
        page.get_by_label("Status", exact=True).select_option("critical")
        expect(shown).to_have_count(2)
        page.get_by_label("Label", exact=True).select_option("env=lab")
        expect(shown).to_have_text(["No certificate matches the filters."])
        page.get_by_role("button", name="Clear").click()
        page.get_by_label("Label", exact=True).select_option("env=lab")
        expect(shown).to_have_count(1)
        expect(shown).to_contain_text(healthy)
        page.get_by_role("button", name="Clear").click()
        page.get_by_label("Source", exact=True).select_option("acm")
        expect(shown).to_have_count(1)
        expect(shown).to_contain_text("imported.local.test")
        page.get_by_role("button", name="Clear").click()
        page.get_by_label("Text", exact=True).fill("demo intermediate")
        expect(shown).to_have_count(3)
        page.get_by_role("button", name="Clear").click()
        expect(shown).to_have_count(4)

        # The CSV download is the table, and the table is what GET /certificates says.
        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_role("button", name="Refresh")).to_be_enabled()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        with saved.open(newline="") as sheet:
            rows = {line["id"]: line for line in csv.DictReader(sheet)}
        listed = stack.call("GET", "/certificates")[1]["items"]
        assert set(rows) == {item["id"] for item in listed}
        assert arn in rows
        for item in listed:
            line = rows[item["id"]]
            assert (line["kind"], line["source"], line["status"], line["paused"]) == (
                item["kind"],
                item["source"],
                item["status"],
                "false",
            )
            assert line["days_left"] == ("" if item["days_left"] is None else str(item["days_left"]))
            assert (line["not_after"], line["checked_at"]) == (item["not_after"] or "", item["checked_at"] or "")
            assert line["findings"] == " ".join(item["codes"])
            assert line["used_by"] == " ".join(item["used_by"])
            labels = sorted({f"{k}={v}" for use in item["endpoints"] for k, v in use["labels"].items()})
            assert line["labels"] == ";".join(labels)
        assert [rows[item["id"]]["name"] for item in listed if item["source"] == "endpoint"] == ["localhost"] * 3
        assert saved.name.startswith("certwatch-")

        # Delete, with a confirmation that can be declined.
        page.get_by_role("button", name=healthy, exact=True).click()
        dialog.get_by_role("button", name="Delete…").click()
        dialog.get_by_role("button", name="Keep it").click()
        expect(dialog.get_by_role("button", name="Delete for good")).to_have_count(0)
        dialog.get_by_role("button", name="Delete…").click()
        dialog.get_by_role("button", name="Delete for good").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("#message")).to_have_text(f"Deleted {healthy} and its results.")
        expect(row(page, healthy)).to_have_count(0)
        assert stack.call("GET", f"/targets/{created['id']}")[0] == 404

        # An admin token picks another team: that team's targets (none), and the account's ACM certificate.
        page.get_by_label("Team", exact=True).fill("other")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#notes")).to_contain_text("Team other.")
        expect(shown).to_have_count(1)
        expect(shown).to_contain_text("imported.local.test")
        page.get_by_label("Team", exact=True).fill("")
        page.get_by_role("button", name="Show").click()
        expect(shown).to_have_count(3)

        # A phone-width screen: every row still readable without sideways scrolling, the timeline redrawn.
        page.set_viewport_size({"width": 390, "height": 844})
        expect(page.locator("#timeline svg")).to_have_attribute("viewBox", re.compile(r"^0 0 3\d\d "))
        expect(row(page, expiring)).to_be_visible()
        box = page.get_by_role("button", name=expiring, exact=True).bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "dashboard-phone", full_page=True)

    assert troubles == []
    outside = [url for url in requests if not url.startswith(f"{stack.url}/") and not url.startswith("blob:")]
    assert outside == []
    assert all(token not in url for url in requests)
    paths = {url.removeprefix(stack.url).split("?")[0] for url in requests}
    assert {"/dashboard", "/targets", "/certificates"} <= paths


def test_the_page_shows_readiness_for_shorter_lifetimes_and_a_targets_renewal_cadence(pki: Pki) -> None:
    """Two endpoints renewed over six months (tests/support/cadence.py), the API served over HTTP in this process."""
    troubles: list[str] = []
    with renewing_endpoints(pki) as renewals, serving_over_http() as base_url, browser_page() as page:
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        page.on(
            "console", lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None
        )
        api = Api(http_transport(base_url), renewals.token)
        ids = renewals.register(api)
        renewals.six_months(api, ids)
        readiness = api.get("/certificates").body["readiness"]
        slow, brisk = renewals.target(SLOW), renewals.target(BRISK)
        assert readiness["not_ready_for_next_step"] == [slow]  # what the page must say, from the API

        page.goto(f"{base_url}/dashboard")
        page.get_by_label("API token").fill(renewals.token)
        page.get_by_role("button", name="Open").click()
        expect(page.locator("#readiness")).to_have_text(
            "Shorter lifetimes: 2 public endpoints with a renewal seen (1 ready for 100-day certificates, "
            f"0 for 47-day ones). Not ready for 100-day certificates (from 2027-03-15): {slow}."
        )

        page.get_by_role("button", name=slow, exact=True).click()
        dialog = page.get_by_role("dialog")
        expect(dialog.locator("h2")).to_have_text(slow)
        expect(dialog).to_contain_text("Renewal cadence")
        expect(dialog).to_contain_text("Certificates seen3")
        expect(dialog).to_contain_text("Renewed at age90 days")
        expect(dialog).to_contain_text("Ready for 100 daysno")
        expect(dialog).to_contain_text("Next cut100 days from 2027-03-15 \u2014 ready: no")
        expect(dialog.locator("ol.renewals li")).to_have_count(2)
        expect(dialog.locator("ol.renewals li").first).to_contain_text(
            "90 days after the change before (the old certificate was 90 days old, 10 days left)"
        )
        shot(page, "dashboard-cadence")
        page.keyboard.press("Escape")

        page.get_by_role("button", name=brisk, exact=True).click()
        expect(dialog.locator("h2")).to_have_text(brisk)
        expect(dialog).to_contain_text("Renewed at age60 days")
        expect(dialog).to_contain_text("Ready for 100 daysyes")
        expect(dialog).to_contain_text("Ready for 47 daysno")
    assert troubles == []


def test_an_alerts_link_opens_the_page_on_its_target_once_the_token_is_given(pki: Pki) -> None:
    """The alert's Details link was the API's URL, which a browser answers with a 401 JSON body."""
    troubles: list[str] = []
    with renewing_endpoints(pki) as renewals, serving_over_http() as base_url, browser_page() as page:
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        page.on(
            "console", lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None
        )
        api = Api(http_transport(base_url), renewals.token)
        ids = renewals.register(api)
        slow, brisk = renewals.target(SLOW), renewals.target(BRISK)
        dialog = page.get_by_role("dialog")

        page.goto(page_url(base_url, ids[SLOW], "web"))  # what the alert about SLOW links to
        page.get_by_label("API token").fill(renewals.token)
        page.get_by_role("button", name="Open").click()
        expect(dialog.locator("h2")).to_have_text(slow)
        expect(dialog).to_contain_text(f"Id{ids[SLOW]}")
        expect(dialog).to_contain_text("Chain as served, leaf first")
        expect(row(page, slow)).to_have_attribute("aria-current", "true")
        expect(row(page, brisk)).not_to_have_attribute("aria-current", "true")
        shot(page, "dashboard-linked")

        # Another alert's link, followed while the page is open.
        page.evaluate("url => { location.href = url; }", page_url(base_url, ids[BRISK], "web"))
        expect(dialog.locator("h2")).to_have_text(brisk)
        expect(dialog).to_contain_text(f"Id{ids[BRISK]}")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(row(page, brisk)).to_have_attribute("aria-current", "true")
        expect(row(page, slow)).not_to_have_attribute("aria-current", "true")

        # A link to a target that is gone says so in the dialog, in the API's words.
        gone = "tg_000000000000deadbeef"
        missing = api.get(f"/targets/{gone}")
        assert missing.status == 404, missing
        page.evaluate("url => { location.href = url; }", page_url(base_url, gone, "web"))
        expect(dialog.locator("#detail-message")).to_have_text(missing.error["message"])
    assert troubles == []


def closed_port() -> int:
    """A loopback port nothing listens on: a check of it is refused."""
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def never_checked(stack: Stack, name: str) -> str:
    """A paused target stored without a check, as a bulk import leaves one before its first: pending for good."""
    now = datetime.now(UTC)
    target = Target(
        new_target_id(),
        "local",
        TargetSpec(Endpoint(name, 443)),
        created_at=now,
        updated_at=now,
        scheduled_at=now + timedelta(days=1),
        paused=True,
    )
    DynamoStore(LocalClients(stack.ports.aws).dynamodb(), "certwatch-local").create_target(target)
    return target.id


def inventory_command(capsys: pytest.CaptureFixture[str], *argv: str) -> set[str]:
    """``certwatch inventory --local --format json ARGV`` (in this process): the ids of its rows."""
    capsys.readouterr()
    status = cli.main(["inventory", "--local", "--format", "json", *argv])
    out, err = capsys.readouterr()
    assert status == 0, err
    return {json.loads(line)["id"] for line in out.splitlines() if line.strip()}


def shown_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("#inventory tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    return ids


def test_three_certificates_behind_seven_targets_read_as_certificates_and_agree_with_the_inventory_command(
    token: str, pki: Pki, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)

    def leaf(name: str, days: float) -> Any:
        return make_cert(name, sans=[name, "127.0.0.1"], issuer=pki.intermediate, not_after=now + timedelta(days=days))

    soon, later, fine = leaf("soon.page.test", 3.5), leaf("later.page.test", 20.5), leaf("fine.page.test", 200.5)
    troubles: list[str] = []
    ports = free_ports()
    with contextlib.ExitStack() as running:
        servers = {
            name: running.enter_context(TlsServer([issued, pki.intermediate]))
            for name, issued in (
                ("soon-1", soon),
                ("soon-2", soon),
                ("later", later),
                ("fine-1", fine),
                ("fine-2", fine),
            )
        }
        served = {name: f"tls://127.0.0.1:{server.port}" for name, server in servers.items()}
        unreachable = [f"tls://127.0.0.1:{closed_port()}" for _ in range(2)]
        stack = running.enter_context(local_stack(ports, token))
        page = running.enter_context(browser_page())
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        page.on(
            "console", lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None
        )
        bundle = pki.root.pem.decode()
        for target in [*served.values(), *unreachable]:
            status, created = stack.call(
                "POST", "/targets", {"target": target, "ca_bundle": bundle, "revocation": False, "ari": False}
            )
            assert status == 201, created
        eventually("the seven targets checked", lambda: all_checked(stack, 7))
        listed = {item["id"]: item for item in stack.call("GET", "/certificates")[1]["items"]}
        ids = {
            item["subject"].removeprefix("CN="): item["id"] for item in listed.values() if item["kind"] == "certificate"
        }
        assert set(ids) == {"soon.page.test", "later.page.test", "fine.page.test"}
        bare = sorted(item_id for item_id, item in listed.items() if item["kind"] == "endpoint")
        assert [listed[item_id]["status"] for item_id in bare] == ["error", "error"]

        # The page's clock is Playwright's: it runs on its own, and the test moves it a minute ahead.
        page.clock.install()
        page.goto(f"{stack.url}/dashboard")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Open").click()
        expect(page.locator("#verdict")).to_have_text(
            "Not safe: 2 certificates need attention, 2 endpoints unreachable"
        )
        chips = page.locator("#counts button.chip")
        expect(chips).to_have_text(["1✖ Critical", "2? Error", "1▲ Warning", "1✔ OK"])
        shown = page.locator("#shown")
        expect(shown).to_have_text(
            "Showing 3 of 3 certificates and 2 of 2 endpoints without one, sorted by days left, soonest expiry first."
        )
        expect(page.locator("#next-expiry")).to_contain_text("Next expiry: soon.page.test (2 endpoints) in 3 days")
        assert shown_ids(page) == [*sorted(bare, key=lambda i: listed[i]["used_by"][0]), *ids.values()]

        # One row per certificate; its endpoints open under it.
        grouped = page.locator("#inventory tbody tr", has=page.get_by_role("button", name="soon.page.test", exact=True))
        expect(grouped).to_contain_text("✖ Critical")
        grouped.get_by_role("button", name="2 endpoints").click()
        expect(grouped.get_by_role("button", name="2 endpoints")).to_have_attribute("aria-expanded", "true")
        under = page.locator(f"#inventory tbody tr.sub[data-of='{ids['soon.page.test']}']")
        expect(under).to_have_count(2)
        expect(row(page, served["soon-1"])).to_contain_text("just now")
        expect(row(page, served["later"])).to_contain_text("▲ Warning")  # one endpoint: named in the row itself
        shot(page, "dashboard-certificates", full_page=True)
        grouped.get_by_role("button", name="2 endpoints").click()
        expect(under).to_have_count(0)

        # Sorting: a header's button, by mouse or keyboard, says so in aria-sort.
        header = page.locator("#inventory thead th")
        page.get_by_role("button", name="Certificate", exact=True).click()
        expect(header.nth(1)).to_have_attribute("aria-sort", "ascending")
        expect(header.nth(2)).not_to_have_attribute("aria-sort", re.compile(".*"))
        assert shown_ids(page)[:3] == [ids["fine.page.test"], ids["later.page.test"], ids["soon.page.test"]]
        page.get_by_role("button", name="Certificate", exact=True).press("Enter")
        expect(header.nth(1)).to_have_attribute("aria-sort", "descending")
        assert shown_ids(page)[-3:] == [ids["soon.page.test"], ids["later.page.test"], ids["fine.page.test"]]
        page.get_by_role("button", name="Status", exact=True).focus()
        page.keyboard.press("Enter")
        expect(header.nth(0)).to_have_attribute("aria-sort", "ascending")
        assert [listed[i]["status"] for i in shown_ids(page)] == ["critical", "error", "error", "warning", "ok"]
        expect(shown).to_contain_text("sorted by status, worst first.")

        # A link to a certificate opens its row, its endpoints shown.
        fingerprint = ids["soon.page.test"]
        page.evaluate("hash => { location.hash = hash; }", f"certificate={fingerprint.upper()}")
        linked = page.locator(f"#inventory tbody tr[data-id='{fingerprint}']")
        expect(linked).to_have_attribute("aria-current", "true")
        expect(linked.get_by_role("button", name="2 endpoints")).to_have_attribute("aria-expanded", "true")
        expect(under).to_have_count(2)
        expect(page.get_by_role("dialog")).to_be_hidden()

        # The page reads the API again every minute, also after the first (it used to stop there).
        updated = page.locator("#updated")
        expect(updated).to_have_text(re.compile(r"^updated \d\d:\d\d:\d\d$"))
        for minute, name in enumerate(["first.pending.test", "second.pending.test"], start=1):
            before = updated.inner_text()
            never_checked(stack, name)
            page.clock.fast_forward(61_000)
            expect(row(page, f"https://{name}:443")).to_contain_text("Not checked yet")
            expect(updated).not_to_have_text(before)
            expect(chips.last).to_have_text(f"{minute}… Not checked yet")
        expect(page.locator("#verdict")).to_have_text(
            "Not safe: 2 certificates need attention, 2 endpoints unreachable"
        )
        rows_now = stack.call("GET", "/certificates")[1]["items"]  # its pending rows checked against the OpenAPI too
        assert sorted(item["status"] for item in rows_now if item["kind"] == "endpoint") == [
            "error",
            "error",
            "pending",
            "pending",
        ]

        # Each count chip shows exactly the rows `certwatch inventory --status` lists for the same team.
        monkeypatch.setenv("CERTWATCH_LOCAL_AWS_PORT", str(ports.aws))
        assert inventory_command(capsys) == set(shown_ids(page))
        for word in ("critical", "error", "warning", "ok", "pending"):
            chip = page.locator(f"#counts button[data-status='{word}']")
            chip.click()
            expect(chip).to_have_attribute("aria-pressed", "true")
            expect(page.get_by_label("Status", exact=True)).to_have_value(word)
            rows = set(shown_ids(page))
            assert rows, word
            assert inventory_command(capsys, "--status", word) == rows, word
            chip.click()
            expect(chip).to_have_attribute("aria-pressed", "false")
        assert inventory_command(capsys, "--status", "error") == set(bare)
    assert troubles == []


@contextlib.contextmanager
def one_expiring_endpoint(pki: Pki) -> Iterator[tuple[Api, str, str, RecordingPublisher]]:
    """A container whose only target is an endpoint serving a certificate that expires in 5 days, over HTTP."""
    name = "expiring.browser.test"
    server = TlsServer([make_cert(name, issuer=pki.intermediate, days=5), pki.intermediate]).start()
    store, publisher = InMemoryStore(), RecordingPublisher()
    container = Container(
        Settings.for_stage("local", allow_cidrs="127.0.0.0/8", check_timeout=3.0),
        store=store,
        queue=RecordingCheckQueue(),
        trust=pki.trust,
        resolver=SystemResolver({name: ["127.0.0.1"]}, lookup=no_dns),
        publisher=publisher,
        certificate_sources=(),
        discoverer=NoEndpoints(),
    )
    deps.use(container)
    token, record = issue("web", admin=False, now=datetime.now(UTC), name="browser")
    store.put_token(record)
    try:
        with serving_over_http() as base_url:
            api = Api(http_transport(base_url), token)
            created = api.register(f"tls://{name}:{server.port}")
            yield api, base_url, created["id"], publisher
    finally:
        deps.use(None)
        if "engine" in container.__dict__:
            container.engine.close()
        server.stop()


def test_a_target_and_a_certificate_are_silenced_acknowledged_and_unsilenced_from_their_details(pki: Pki) -> None:
    troubles: list[str] = []
    with one_expiring_endpoint(pki) as (api, base_url, target_id, publisher), browser_page() as page:
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        dialog = page.get_by_role("dialog")
        page.goto(page_url(base_url, target_id, "web"))
        page.get_by_label("API token").fill(api.token or "")
        page.get_by_role("button", name="Open").click()
        expect(dialog.get_by_role("heading", name="Alerts")).to_be_visible()
        expect(dialog.get_by_role("button", name="Acknowledge")).to_be_disabled()  # nothing checked yet to wait for

        dialog.get_by_label("Reason for the silence").fill("moving it to the new load balancer")
        dialog.get_by_role("button", name="Silence 7 days").click()
        silences = dialog.get_by_role("list", name="Silences of this target")
        expect(silences).to_contain_text("moving it to the new load balancer")
        dialog.get_by_role("button", name="Check now").click()
        events = dialog.get_by_role("list", name="Events of this target")
        expect(events).to_contain_text("certificate.expiring")
        expect(events).to_contain_text("silenced by si_")
        assert publisher.published == [], "a silenced event reaches no channel"
        shot(page, "dashboard-silenced")

        silences.get_by_role("button", name="End now").click()
        expect(silences).to_contain_text("Not silenced")
        dialog.get_by_role("button", name="Acknowledge").click()
        expect(silences).to_contain_text("until its certificate is replaced")
        (silence,) = [s for s in api.get("/silences").body["items"] if s["active"]]
        assert (silence["match"], silence["value"], silence["until_certificate_changes"] is not None) == (
            "target",
            target_id,
            True,
        )

        # A certificate is silenced from its own facts, as a certificate: every endpoint serving it.
        silences.get_by_role("button", name="End now").click()
        expect(silences).to_contain_text("Not silenced")
        page.keyboard.press("Escape")
        fingerprint = api.get(f"/targets/{target_id}").body["result"]["results"][0]["leaf"]["fingerprint_sha256"]
        page.locator(f"#inventory tbody tr[data-id='{fingerprint}'] button[data-key='open:{fingerprint}']").click()
        by_certificate = dialog.get_by_role("list", name="Silences of this certificate")
        expect(by_certificate).to_contain_text("Not silenced as a certificate")
        expect(dialog.get_by_role("list", name="Events of this certificate")).to_contain_text("certificate.expiring")
        dialog.get_by_role("button", name="Silence 1 day").click()
        expect(by_certificate.get_by_role("button", name="End now")).to_be_visible()
        (silence,) = [s for s in api.get("/silences").body["items"] if s["active"]]
        assert (silence["match"], silence["value"]) == ("certificate", fingerprint)
        by_certificate.get_by_role("button", name="End now").click()
        expect(by_certificate).to_contain_text("Not silenced as a certificate")
        assert not [s for s in api.get("/silences").body["items"] if s["active"]]
    assert troubles == []


@contextlib.contextmanager
def page_container(pki: Pki, names: Sequence[str], token_name: str) -> Iterator[tuple[InMemoryStore, str]]:
    """The page's services for one test, in memory: ``names`` resolve to loopback; a token of team web."""
    store = InMemoryStore()
    container = Container(
        Settings.for_stage("local", allow_cidrs="127.0.0.0/8", check_timeout=3.0),
        store=store,
        queue=RecordingCheckQueue(),
        trust=pki.trust,
        resolver=SystemResolver({name: ["127.0.0.1"] for name in names}, lookup=no_dns),
        publisher=RecordingPublisher(),
        certificate_sources=list,
        discoverer=NoEndpoints,
    )
    token, record = issue("web", admin=False, now=datetime.now(UTC), name=token_name)
    store.put_token(record)
    deps.use(container)
    try:
        yield store, token
    finally:
        deps.use(None)
        if "engine" in container.__dict__:
            container.engine.close()


def test_a_targets_detail_names_each_addresss_key_exchange_and_its_posture_policy(pki: Pki) -> None:
    """A classical server (Python's ssl) and a hybrid post-quantum one (the bundled OpenSSL, asked about TLS 1.0)."""
    classical_name, hybrid_name = "classical.page.test", "hybrid.page.test"
    troubles: list[str] = []
    with (
        page_container(pki, [classical_name, hybrid_name], "posture") as (_, token),
        TlsServer([make_cert(classical_name, issuer=pki.intermediate), pki.intermediate]) as classical,
        BundledTlsServer(
            [make_cert(hybrid_name, issuer=pki.intermediate), pki.intermediate], versions=(SSL.TLS1_2_VERSION, 0)
        ) as hybrid,
        serving_over_http() as base_url,
        browser_page() as page,
    ):
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None,
        )
        api = Api(http_transport(base_url), token)
        classical_target = f"https://{classical_name}:{classical.port}"
        hybrid_target = f"https://{hybrid_name}:{hybrid.port}"
        for target, posture in ((classical_target, None), (hybrid_target, {"legacy_tls": True})):
            created = api.register(target, **({"posture": posture} if posture else {}))
            assert api.post(f"/targets/{created['id']}/check").status == 200

        page.goto(f"{base_url}/dashboard")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Open").click()
        dialog = page.get_by_role("dialog")

        page.get_by_role("button", name=classical_target, exact=True).click()
        expect(dialog.locator("h2")).to_have_text(classical_target)
        expect(dialog).to_contain_text("Key exchangex25519 \u00b7 classical")
        expect(dialog).to_contain_text("Posture policythe team's")
        expect(dialog).not_to_contain_text("Legacy TLS")
        page.keyboard.press("Escape")

        page.get_by_role("button", name=hybrid_target, exact=True).click()
        expect(dialog.locator("h2")).to_have_text(hybrid_target)
        expect(dialog).to_contain_text("Key exchangeX25519MLKEM768 \u00b7 hybrid post-quantum")
        expect(dialog).to_contain_text("Legacy TLSrefuses TLS 1.0 and 1.1")
        expect(dialog).to_contain_text("Posture policylegacy TLS asked")
        shot(page, "dashboard-posture")


def test_the_crypto_posture_panel_counts_key_exchanges_keys_legacy_tls_and_the_policys_date(pki: Pki) -> None:
    """A classical server (Python's ssl, an RSA leaf) and a hybrid one accepting TLS 1.0 (the bundled OpenSSL),
    under a team policy wanting quantum-safe signatures by 2030: the panel sums them up, and each entry opens
    its target, whose detail names its certificates' algorithms."""
    classical_name, hybrid_name = "classical.panel.test", "hybrid.panel.test"
    troubles: list[str] = []
    with (
        page_container(pki, [classical_name, hybrid_name], "panel") as (_, token),
        TlsServer([make_cert(classical_name, issuer=pki.intermediate, key="rsa2048"), pki.intermediate]) as classical,
        BundledTlsServer([make_cert(hybrid_name, issuer=pki.intermediate), pki.intermediate]) as hybrid,
        serving_over_http() as base_url,
        browser_page() as page,
    ):
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None,
        )
        api = Api(http_transport(base_url), token)
        by = {"quantum_safe_signatures_by": "2030-01-01"}
        assert api.patch("/settings", {"posture": by}).status == 200
        classical_target = f"https://{classical_name}:{classical.port}"
        hybrid_target = f"https://{hybrid_name}:{hybrid.port}"
        for target, posture in ((classical_target, None), (hybrid_target, {**by, "legacy_tls": True})):
            created = api.register(target, **({"posture": posture} if posture else {}))
            assert api.post(f"/targets/{created['id']}/check").status == 200

        page.goto(f"{base_url}/dashboard")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Open").click()
        panel = page.locator("#posture-box")
        panel.locator("summary").click()
        expect(panel.get_by_role("heading", name="Crypto posture")).to_be_visible()

        exchanges = panel.get_by_role("table", name="Addresses by key exchange (2 addresses checked)")
        expect(exchanges.get_by_role("row")).to_have_text(
            [
                "Key exchangeAddressesWhere",
                f"hybrid post-quantum1{hybrid_target} X25519MLKEM768 at 127.0.0.1",
                "post-quantum0",
                f"classical1{classical_target} x25519 at 127.0.0.1",
                "unknown0",
            ]
        )
        keys = panel.get_by_role("table", name="Key algorithms of the leaf certificates served")
        expect(keys.get_by_role("row")).to_have_text(
            [
                "KeyCertificatesServed by",
                f"ECDSA-P256 (NIST quantum level 0)\u00d71{hybrid_target}",
                f"RSA-2048 (NIST quantum level 0)\u00d71{classical_target}",
            ]
        )
        legacy = panel.get_by_role("heading", name="Legacy TLS accepted").locator("xpath=following-sibling::ul[1]")
        expect(legacy.get_by_role("listitem")).to_have_text(
            [f"{hybrid_target} accepts TLS 1.0 or 1.1 (LEGACY_TLS_ACCEPTED)"]
        )
        expect(panel).to_contain_text(
            "The team's policy wants quantum-safe signatures (ML-DSA, SLH-DSA) by 2030-01-01."
        )
        quantum = panel.get_by_role("heading", name="Quantum-vulnerable signatures, by the policy's date").locator(
            "xpath=following-sibling::ul[1]"
        )
        expect(quantum.get_by_role("listitem")).to_have_text(
            [
                f"{classical_target} signed or keyed with RSA, ECDSA or EdDSA (QUANTUM_VULNERABLE_SIGNATURE)",
                f"{hybrid_target} signed or keyed with RSA, ECDSA or EdDSA (QUANTUM_VULNERABLE_SIGNATURE)",
            ]
        )
        shot(page, "dashboard-crypto-posture")

        dialog = page.get_by_role("dialog")
        keys.get_by_role("button", name=classical_target, exact=True).click()
        expect(dialog.locator("h2")).to_have_text(classical_target)
        expect(dialog).to_contain_text(
            "algorithms: key RSA-2048 (NIST quantum level 0) \u00b7 signature ecdsa-with-SHA256"
            " (NIST quantum level 0) \u00b7 hash SHA-256 (NIST quantum level 2)"
        )
        expect(dialog.locator("ol.chain > li")).to_have_count(2)
        for item in dialog.locator("ol.chain > li").all():
            expect(item).to_contain_text("algorithms: key ")
        page.keyboard.press("Escape")

        legacy.get_by_role("button", name=hybrid_target, exact=True).click()
        expect(dialog.locator("h2")).to_have_text(hybrid_target)
        expect(dialog).to_contain_text("algorithms: key ECDSA-P256 (NIST quantum level 0)")
        expect(dialog).to_contain_text("Legacy TLSaccepts TLSv1")
    assert troubles == []


def test_download_cbom_saves_the_apis_cyclonedx_document_of_the_chains_served(pki: Pki, tmp_path: Path) -> None:
    """The button saves GET /cbom's document: CycloneDX 1.6, holding the chains the two endpoints served."""
    from tests.support.cbom import read_cbom

    troubles: list[str] = []
    with renewing_endpoints(pki) as renewals, serving_over_http() as base_url, browser_page() as page:
        page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
        page.on(
            "console", lambda message: troubles.append(message.text) if trouble(message.type, message.text) else None
        )
        api = Api(http_transport(base_url), renewals.token)
        ids = renewals.register(api)
        page.goto(f"{base_url}/dashboard")
        page.get_by_label("API token").fill(renewals.token)
        page.get_by_role("button", name="Open").click()
        expect(row(page, renewals.target(SLOW))).to_be_visible()

        with page.expect_download() as download:
            page.get_by_role("button", name="Download CBOM").click()
        assert re.fullmatch(r"certwatch-inventory-cbom-\d{4}-\d\d-\d\d\.cdx\.json", download.value.suggested_filename)
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        expect(page.get_by_role("button", name="Download CBOM")).to_be_enabled()
        cbom = read_cbom(saved.read_text())
        assert cbom.document["components"] == read_cbom(api.get("/cbom").body).document["components"]
        for name, target_id in ids.items():
            (result,) = api.get(f"/targets/{target_id}").body["result"]["results"]
            served = {result["leaf"]["fingerprint_sha256"], *(c["fingerprint_sha256"] for c in result["chain"])}
            assert pki.intermediate.fingerprint in served
            assert cbom.certificates_served(cbom.endpoint_named(renewals.target(name))) == served
    assert troubles == []


def test_a_name_seen_in_ct_and_watched_by_no_target_is_watched_with_one_click(pki: Pki) -> None:
    """GET /certificates lists it as "seen in CT, not watched"; its button registers it (POST /targets)."""
    troubles: list[str] = []
    watched, unwatched = "www.browser.test", "legacy.browser.test"
    server = TlsServer([make_cert(watched, sans=[watched, unwatched], issuer=pki.intermediate), pki.intermediate])
    server.start()
    now = datetime.now(UTC)
    with page_container(pki, [watched, unwatched], "browser") as (store, token):
        try:
            with serving_over_http() as base_url, browser_page() as page:
                page.on("pageerror", lambda error: troubles.append(f"page error: {error}"))
                api = Api(http_transport(base_url), token)
                api.register(f"https://{watched}")
                assert api.post("/domains", {"domain": "browser.test"}).status == 201
                store.record_issuances(
                    "web",
                    [
                        Issuance(
                            id="1",
                            tbs_sha256="ab" * 32,
                            dns_names=(watched, unwatched),
                            pubkey_sha256="cd" * 32,
                            issuer="C=US, O=Example, CN=Example R1",
                            not_before=now - timedelta(days=1),
                            not_after=now + timedelta(days=60),
                        )
                    ],
                )
                page.goto(f"{base_url}/dashboard")
                page.get_by_label("API token").fill(token)
                page.get_by_role("button", name="Open").click()
                button = page.get_by_role("button", name=f"watch {unwatched}")
                expect(button).to_be_visible()
                expect(page.locator("#inventory tbody")).to_contain_text("seen in CT, not watched")
                expect(page.locator("#summary")).not_to_contain_text(unwatched)  # not a certificate the team depends on
                shot(page, "dashboard-unwatched")
                button.click()
                eventually(
                    "the name registered as a target",
                    lambda: next((t for t in api.get("/targets").body["items"] if t["host"] == unwatched), None),
                )
                expect(page.get_by_role("button", name=f"watch {unwatched}")).to_have_count(0)

                # The watched domains: listed, one added from the form, then removed.
                page.get_by_role("heading", name="Watched domains").click()
                domains = page.get_by_role("list", name="Watched domains")
                expect(domains).to_contain_text("browser.test")
                page.get_by_label("Domain", exact=True).fill("second.test")
                page.get_by_label("Allowed issuers").fill("R11; E6")
                page.get_by_role("button", name="Watch", exact=True).click()
                expect(domains).to_contain_text("second.test")
                second = next(d for d in api.get("/domains").body["items"] if d["domain"] == "second.test")
                assert second["allowed_issuers"] == ["R11", "E6"]
                shot(page, "dashboard-domains")
                domains.locator(f"li[data-domain='{second['id']}']").get_by_role("button", name="Stop watching").click()
                expect(domains).not_to_contain_text("second.test")
                assert [d["domain"] for d in api.get("/domains").body["items"]] == ["browser.test"]
        finally:
            server.stop()
    assert troubles == []
