"""GET /metrics through ``chalice.test.Client``: stored results of real checks, read back with Prometheus' parser.

Each target is checked over loopback TLS (POST /targets/{id}/check); the scrape then shows what
blackbox_exporter and ssl_exporter document for what was served: the earliest notAfter of the
certificates the server sent, the earliest of the verified chain (its anchor included), success
only when a verifying client accepts the chain. Unlike theirs, the series stay for an expired
certificate, and an address that answered nothing says why.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from lab.certs import Issued, make_ca, make_cert
from lab.servers import TlsServer
from tests.support.api import LOOPBACK, Api, Stack, Stacks, client_transport
from tests.support.net import closed_port
from tests.support.pki import Pki
from tests.support.scrape import Scrape, read_openmetrics, read_text

# What Prometheus 3 sends (scrape_protocols' default order).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
# Labels that hold a certificate's names: only info series may carry them.
NAME_LABELS = {"subjectalternative", "dnsnames", "ips"}


@dataclass(frozen=True)
class Served:
    """A loopback TLS server, the name it answers for and the chain it sends (leaf first)."""

    name: str
    chain: tuple[Issued, ...]
    server: TlsServer

    @property
    def target(self) -> str:
        return f"https://{self.name}:{self.server.port}"

    def expiry(self, position: int = 0) -> float:
        return float(int(self.chain[position].cert.not_valid_after_utc.timestamp()))


@dataclass(frozen=True)
class Zoo:
    healthy: Served
    expired: Served
    cross: Served  # also sends an expired certificate the valid path does not use
    short_root: Served  # under a team's own root that expires before the leaf
    short_root_ca: Issued

    @property
    def pins(self) -> dict[str, list[str]]:
        return {s.name: ["127.0.0.1"] for s in (self.healthy, self.expired, self.cross, self.short_root)}


@pytest.fixture(scope="module")
def zoo(pki: Pki) -> Iterator[Zoo]:
    now = datetime.now(UTC)
    day = timedelta(days=1)
    old_root = make_ca("certwatch Retired Root", not_before=now - 4000 * day, not_after=now - 300 * day)
    cross = make_ca("certwatch Test Root", issuer=old_root, not_before=now - 3000 * day, not_after=now - 400 * day)
    short = make_ca("certwatch Short Root", not_after=now + 40 * day)
    long_inter = make_ca("certwatch Long Intermediate", issuer=short, not_after=now + 400 * day)
    chains = {
        "healthy": ("healthy.metrics.example.test", (pki.intermediate,), now + 60 * day),
        "expired": ("expired.metrics.example.test", (pki.intermediate,), now - 2 * day),
        "cross": ("cross.metrics.example.test", (pki.intermediate, cross), now + 60 * day),
        "short_root": ("short.metrics.example.test", (long_inter,), now + 60 * day),
    }
    with contextlib.ExitStack() as stack:
        served = {}
        for what, (name, rest, until) in chains.items():
            issuer = rest[0]
            leaf = make_cert(
                name, sans=[name, f"www.{name}"], issuer=issuer, not_before=now - 30 * day, not_after=until
            )
            chain = (leaf, *rest)
            served[what] = Served(name, chain, stack.enter_context(TlsServer(list(chain))))
        yield Zoo(**served, short_root_ca=short)


@pytest.fixture
def stack(stacks: Stacks, zoo: Zoo) -> Stack:
    return stacks.build(allow_cidrs=LOOPBACK, pins=zoo.pins)


@pytest.fixture
def api(client: Client, stack: Stack) -> Api:
    return Api(client_transport(client), stack.token("alpha"), stack.token("ops", admin=True))


def checked(api: Api, target: str, **fields: object) -> str:
    """Register ``target`` and check it now; its id."""
    created = api.register(target, **fields)
    reply = api.post(f"/targets/{created['id']}/check")
    assert reply.status == 200, reply
    return str(created["id"])


def scrape(api: Api, path: str = "/metrics", **headers: str) -> Scrape:
    """GET /metrics as Prometheus asks for it, read with the client library's OpenMetrics parser."""
    reply = api.call("GET", path, headers={"Accept": PROMETHEUS_ACCEPT, **headers})
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    body = reply.body
    if reply.headers.get("Content-Encoding") == "gzip":
        assert isinstance(body, bytes)
        body = gzip.decompress(body).decode()
    assert isinstance(body, str)
    return read_openmetrics(body)


def test_a_healthy_an_expired_and_an_unreachable_target_read_as_the_exporters_document(
    api: Api, zoo: Zoo, pki: Pki
) -> None:
    healthy = checked(api, zoo.healthy.target)
    expired = checked(api, zoo.expired.target)
    with closed_port() as port:
        refused = checked(api, f"tls://127.0.0.1:{port}")

    got = scrape(api)

    now = datetime.now(UTC).timestamp()
    assert got.value("probe_success", target_id=healthy) == 1
    assert got.value("ssl_probe_success", target_id=healthy) == 1
    # The earliest notAfter of what the server sent; of the verified chain, the root included.
    assert got.value("probe_ssl_earliest_cert_expiry", target_id=healthy) == zoo.healthy.expiry()
    assert got.value("probe_ssl_last_chain_expiry_timestamp_seconds", target_id=healthy) == zoo.healthy.expiry()
    sent = {s.labels["cn"]: s.value for s in got.find("ssl_cert_not_after", target_id=healthy)}
    assert sent == {zoo.healthy.name: zoo.healthy.expiry(), "certwatch Test Intermediate": zoo.healthy.expiry(1)}
    verified = {s.labels["cn"]: s.value for s in got.find("ssl_verified_cert_not_after", target_id=healthy)}
    root = float(int(pki.root.cert.not_valid_after_utc.timestamp()))
    assert verified == {**sent, "certwatch Test Root": root}
    assert {s.labels["chain_no"] for s in got.samples("ssl_verified_cert_not_after")} == {"0"}
    (leaf,) = got.find("probe_ssl_last_chain_info", target_id=healthy)
    assert leaf.labels["subjectalternative"] == f"{zoo.healthy.name},www.{zoo.healthy.name}"
    assert leaf.labels["issuer"] == "CN=certwatch Test Intermediate"
    serial = zoo.healthy.chain[0].cert.serial_number
    assert leaf.labels["serialnumber"] == serial.to_bytes((serial.bit_length() + 7) // 8).hex()  # Go's %x of Bytes()
    assert got.find("probe_tls_version_info", target_id=healthy)[0].labels["version"] == "TLS 1.3"
    # An expired certificate fails the probe but keeps its expiry series (the exporters' handshake
    # fails and they vanish); no chain verifies for it, so the verified chain's series are absent.
    assert got.value("probe_success", target_id=expired) == 0
    assert got.value("ssl_probe_success", target_id=expired) == 0
    assert got.value("probe_ssl_earliest_cert_expiry", target_id=expired) == zoo.expired.expiry() < now
    assert got.value("certwatch_days_left", target_id=expired) == -2
    assert got.value("certwatch_finding", target_id=expired, code="EXPIRED", severity="critical") == 1
    assert got.find("probe_ssl_last_chain_expiry_timestamp_seconds", target_id=expired) == []
    assert got.find("ssl_verified_cert_not_after", target_id=expired) == []
    # Nothing read: success 0, the failure named in an info series, no certificate series.
    assert got.value("probe_success", target_id=refused) == 0
    (check,) = got.find("certwatch_check_info", target_id=refused)
    assert [check.labels[k] for k in ("status", "failure", "address")] == ["error", "refused", "127.0.0.1"]
    assert got.find("probe_ssl_earliest_cert_expiry", target_id=refused) == []
    assert got.value("certwatch_finding", target_id=refused, code="CONNECTION_FAILED") == 1
    statuses = {s.labels["target_id"]: s.labels["status"] for s in got.samples("certwatch_target_info")}
    assert statuses == {healthy: "ok", expired: "critical", refused: "error"}
    assert got.value("certwatch_last_check_timestamp_seconds", target_id=healthy) <= now


def test_an_expired_certificate_sent_beside_a_valid_path_is_the_earliest_not_the_chains_expiry(
    api: Api, zoo: Zoo
) -> None:
    target = checked(api, zoo.cross.target)

    got = scrape(api)

    assert got.value("probe_success", target_id=target) == 1
    assert got.value("probe_ssl_earliest_cert_expiry", target_id=target) == zoo.cross.expiry(2)  # the old cross-sign
    assert got.value("probe_ssl_last_chain_expiry_timestamp_seconds", target_id=target) == zoo.cross.expiry()
    assert got.value("certwatch_finding", target_id=target, code="CHAIN_EXPIRING", severity="warning") == 1


def test_the_verified_chain_ends_with_its_root_when_the_root_expires_first(api: Api, zoo: Zoo) -> None:
    target = checked(api, zoo.short_root.target, ca_bundle=zoo.short_root_ca.pem.decode())

    got = scrape(api)

    root = float(int(zoo.short_root_ca.cert.not_valid_after_utc.timestamp()))
    assert got.value("probe_success", target_id=target) == 1
    assert got.value("probe_ssl_earliest_cert_expiry", target_id=target) == zoo.short_root.expiry()  # what was sent
    assert got.value("probe_ssl_last_chain_expiry_timestamp_seconds", target_id=target) == root
    assert got.value("ssl_verified_cert_not_after", target_id=target, cn="certwatch Short Root") == root
    assert got.find("ssl_cert_not_after", target_id=target, cn="certwatch Short Root") == []  # never sent


def test_a_certificates_names_live_in_info_series_only(api: Api, zoo: Zoo) -> None:
    target = checked(api, zoo.healthy.target)

    got = scrape(api)

    alternative = f"www.{zoo.healthy.name}"
    carrying = {
        family.name: family.type
        for family in got.families
        for sample in family.samples
        if sample.labels.get("target_id") == target and any(alternative in v for v in sample.labels.values())
    }
    assert carrying == {"probe_ssl_last_chain": "info", "certwatch_certificate": "info"}
    labelled = {family.type for family in got.families for s in family.samples if NAME_LABELS & set(s.labels)}
    assert labelled == {"info"}
    (names,) = got.find("certwatch_certificate_info", target_id=target, cn=zoo.healthy.name)
    assert names.labels["dnsnames"] == f",{zoo.healthy.name},{alternative},"


def test_a_team_sees_its_own_an_admin_every_team_or_the_one_it_names(api: Api, stack: Stack, zoo: Zoo) -> None:
    mine = checked(api, zoo.healthy.target)
    beta = api.as_(stack.token("beta"))
    theirs = checked(beta, zoo.expired.target)
    admin = api.as_admin()

    assert scrape(api).target_ids() == {mine}
    assert scrape(beta).target_ids() == {theirs}
    assert scrape(admin).target_ids() == {mine, theirs}
    assert scrape(admin, "/metrics?team=beta").target_ids() == {theirs}
    assert {s.labels["team"] for s in scrape(admin).samples("certwatch_target_info")} == {"alpha", "beta"}
    refused = api.call("GET", "/metrics?team=beta")
    assert refused.status == 403
    assert refused.error["code"] == "forbidden"


@pytest.mark.parametrize("query", ["?team=Not%20A%20Team", "?target=x", "?team=", "?team=%ff"])
def test_a_malformed_query_is_400_with_the_json_error(api: Api, query: str) -> None:
    reply = api.call("GET", f"/metrics{query}")

    assert reply.status == 400, reply
    assert reply.error["code"] in {"invalid_field", "unknown_query_parameter"}


def test_without_a_token_it_is_401_json(api: Api) -> None:
    reply = api.as_(None).call("GET", "/metrics")

    assert reply.status == 401
    assert reply.error["code"] == "unauthorized"


def test_openmetrics_is_gzipped_when_asked_and_the_classic_text_is_not(api: Api, zoo: Zoo) -> None:
    target = checked(api, zoo.healthy.target)

    plain = scrape(api)
    zipped = api.call("GET", "/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"})
    classic = api.call("GET", "/metrics", headers={"Accept": "*/*", "Accept-Encoding": "gzip"})
    later = api.call("GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4,application/openmetrics-text"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert isinstance(zipped.body, bytes)
    assert read_openmetrics(gzip.decompress(zipped.body).decode()).names() == plain.names()
    assert classic.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in classic.headers
    assert isinstance(classic.body, str)
    parsed = read_text(classic.body)
    assert parsed.value("probe_success", target_id=target) == 1
    assert parsed.names() == plain.names()  # the same series; info ones under their sample names
    # API Gateway reads the first media type only: OpenMetrics named later gets the classic text.
    assert later.headers["Content-Type"].startswith("text/plain; version=0.0.4")


@pytest.mark.parametrize("accept", ["application/openmetrics-text;version=abc", "text/plain;version=x", ";;;"])
def test_an_accept_header_the_library_cannot_read_gets_the_classic_text(api: Api, accept: str) -> None:
    reply = api.call("GET", "/metrics", headers={"Accept": accept})

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_a_target_never_checked_is_pending_and_has_no_other_series(api: Api, zoo: Zoo) -> None:
    created = api.register(zoo.healthy.target)

    got = scrape(api)

    (target,) = got.samples("certwatch_target_info")
    assert target.labels == {
        "team": "alpha",
        "target": zoo.healthy.target,
        "target_id": created["id"],
        "status": "pending",
        "paused": "false",
    }
    assert got.names() == {"certwatch_target_info"}
