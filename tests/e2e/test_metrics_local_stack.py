"""GET /metrics of the local stack (`make run`) over real HTTP, after its checker checked the demo zoo.

The zoo (lab/zoo.py) is registered by address, each exhibit with its name as SNI and the zoo's
root as its CA bundle; once the stack's sweep and checker have checked every exhibit, a scrape
read with the client library's OpenMetrics parser must give what blackbox_exporter and
ssl_exporter document for each: ``probe_success`` 1 where Go's verifying TLS client accepts the
chain for the name (``VERIFIES``), else 0; ``probe_ssl_earliest_cert_expiry`` the earliest notAfter
of the certificates sent; ``probe_ssl_last_chain_expiry_timestamp_seconds`` and
``ssl_verified_cert_not_after`` the verified chain's, root included, only where one verifies;
``ssl_cert_not_after`` one per certificate sent. certwatch keeps the expired exhibit's expiry
series, and the silent one's failure. docs/grafana-dashboard.json's every query names a series
that scrape returned.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from chalicelib.domain.tokens import issue
from lab.zoo import Exhibit, Zoo, running_zoo
from tests.support.localstack import Stack, free_ports, local_stack
from tests.support.scrape import Scrape, dashboard_queries, read_openmetrics, series_named

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHECKED_TIMEOUT = 90.0
ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
# The exhibits whose chain Go's crypto/tls accepts for their name with the zoo's root as the only CA
# (blackbox's and ssl_exporter's default, verifying, modules). Not: expired (past notAfter),
# wrong-name (another name), self-signed (no trusted issuer), no-intermediate (Go builds no path
# without it), silent (no certificate at all). weak: Go accepts a 1024-bit RSA key, and so does a
# private CA's profile here.
VERIFIES = {"healthy", "expiring", "stale-acme", "weak", "mail"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def zoo() -> Iterator[Zoo]:
    with running_zoo() as running:
        yield running


@pytest.fixture(scope="module")
def scraped(zoo: Zoo) -> Iterator[tuple[Scrape, dict[str, str]]]:
    """The stack's scrape once every exhibit was checked, and each exhibit's target id by its short name."""
    token = issue("local", admin=True, now=datetime.now(UTC))[0]
    bundle = Path(zoo.ca_file).read_text()
    with local_stack(free_ports(), token, env={"CERTWATCH_CHECK_TIMEOUT": "2"}) as stack:
        ids = {_short(e): _register(stack, e, bundle) for e in zoo.exhibits}
        deadline = time.monotonic() + CHECKED_TIMEOUT
        while True:
            got = _scrape(stack)
            pending = {s.labels["target_id"] for s in got.find("certwatch_target_info", status="pending")}
            if not pending & set(ids.values()):
                break
            assert time.monotonic() < deadline, f"not checked within {CHECKED_TIMEOUT:g}s:\n{stack.output}"
            time.sleep(0.5)
        zipped = _scrape(stack, gzipped=True)
        assert zipped.names() == got.names()
        yield got, ids


def _short(exhibit: Exhibit) -> str:
    return exhibit.name.removesuffix(".demo.test")


def _register(stack: Stack, exhibit: Exhibit, bundle: str) -> str:
    body = {"target": f"{exhibit.scheme}://127.0.0.1:{exhibit.server.port}", "sni": exhibit.name, "ca_bundle": bundle}
    status, created = stack.call("POST", "/targets", body)
    assert status == 201, created
    return str(created["id"])


def _scrape(stack: Stack, *, gzipped: bool = False) -> Scrape:
    headers = {"Authorization": f"Bearer {stack.token}", "Accept": ACCEPT}
    if gzipped:
        headers["Accept-Encoding"] = "gzip"
    with _OPENER.open(urllib.request.Request(stack.url + "/metrics", headers=headers), timeout=15) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        assert answer.headers.get("Content-Encoding") == ("gzip" if gzipped else None)
        raw = answer.read()
    return read_openmetrics((gzip.decompress(raw) if gzipped else raw).decode())


def _unix(cert: x509.Certificate) -> float:
    return float(int(cert.not_valid_after_utc.timestamp()))


def test_the_zoo_reads_as_blackbox_exporter_and_ssl_exporter_document(
    zoo: Zoo, scraped: tuple[Scrape, dict[str, str]]
) -> None:
    got, ids = scraped
    root = x509.load_pem_x509_certificate(Path(zoo.ca_file).read_bytes())

    for exhibit in zoo.exhibits:
        short, target_id = _short(exhibit), ids[_short(exhibit)]
        sent = [issued.cert for issued in exhibit.chain]
        verifies = short in VERIFIES
        where = f"{short}: "
        assert got.value("probe_success", target_id=target_id) == verifies, where + "probe_success"
        assert got.value("ssl_probe_success", target_id=target_id) == verifies, where + "ssl_probe_success"
        if not sent:  # nothing read: the failure is named, and no certificate series are made up
            (check,) = got.find("certwatch_check_info", target_id=target_id)
            assert check.labels["failure"] == "timeout", where + str(check.labels)
            assert got.find("probe_ssl_earliest_cert_expiry", target_id=target_id) == [], where
            continue
        earliest = min(_unix(cert) for cert in sent)
        assert got.value("probe_ssl_earliest_cert_expiry", target_id=target_id) == earliest, where + "earliest"
        per_sent = sorted(s.value for s in got.find("ssl_cert_not_after", target_id=target_id))
        assert per_sent == sorted({_unix(cert) for cert in sent}), where + "ssl_cert_not_after"
        last_chain = got.find("probe_ssl_last_chain_expiry_timestamp_seconds", target_id=target_id)
        verified = sorted(s.value for s in got.find("ssl_verified_cert_not_after", target_id=target_id))
        if verifies:
            path = [*sent, root]  # the leaf, the intermediate the server sends, the zoo's root
            assert [s.value for s in last_chain] == [min(_unix(cert) for cert in path)], where + "last chain"
            assert verified == sorted(_unix(cert) for cert in path), where + "ssl_verified_cert_not_after"
        else:
            assert last_chain == [], where + "no chain verifies"
            assert verified == [], where + "no chain verifies"
        codes = {s.labels["code"] for s in got.find("certwatch_finding", target_id=target_id)}
        assert exhibit.expected <= codes, where + str(codes)


def test_an_expired_certificate_keeps_its_series_and_says_it_expired(
    zoo: Zoo, scraped: tuple[Scrape, dict[str, str]]
) -> None:
    got, ids = scraped
    expired = ids["expired"]

    assert got.value("probe_ssl_earliest_cert_expiry", target_id=expired) < datetime.now(UTC).timestamp()
    assert got.value("certwatch_days_left", target_id=expired) == -2  # 2.5 days ago: -2, as the API counts
    assert got.value("certwatch_finding", target_id=expired, code="EXPIRED", severity="critical") == 1
    assert got.find("certwatch_target_info", target_id=expired)[0].labels["status"] == "critical"
    assert got.value("certwatch_renewal_overdue", target_id=ids["stale-acme"]) == 1
    assert got.value("certwatch_renewal_overdue", target_id=ids["healthy"]) == 0


def test_every_query_of_the_grafana_dashboard_names_a_series_the_scrape_returned(
    scraped: tuple[Scrape, dict[str, str]],
) -> None:
    got, _ = scraped
    dashboard: dict[str, Any] = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())

    for query in dashboard_queries(dashboard):
        named = series_named(query)
        assert named, query
        assert named <= got.names(), f"{query}: {sorted(named - got.names())} not in the scrape"
