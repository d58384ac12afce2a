"""The series of GET /metrics from hand-built reports (chalicelib/domain/metrics.py), and their text.

The exporters' names keep the exporters' meanings and label forms (Go's: the TLS version as
"TLS 1.3", the cipher's IANA name, blackbox's serial in hex bytes, ssl_exporter's in decimal and
its ",a,b," lists); certwatch's own say what only certwatch knows.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain import metrics
from chalicelib.domain.metrics import FAMILIES, Kind, Sample, Watched, samples
from chalicelib.domain.models import Finding, FindingCode, RenewalWindow, Revocation, Severity, TargetReport
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.presentation.metrics import exposition
from tests.support import reports
from tests.support.scrape import Scrape, read_openmetrics, read_text

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def target(report: TargetReport | None, *, team: str = "web", number: int = 1, paused: bool = False) -> Watched:
    spec = TargetSpec(reports.report(NOW).endpoint if report is None else report.endpoint)
    made = Target(f"tg_{number:020x}", team, spec, NOW, NOW, NOW, paused=paused)
    return Watched(made, report)


def one(report: TargetReport) -> list[Sample]:
    return list(samples([target(report)]))


def values(found: list[Sample], family: metrics.Family) -> list[tuple[dict[str, str], float]]:
    return [(dict(zip(family.label_names, s.labels, strict=True)), s.value) for s in found if s.family is family]


def with_result(**changes: Any) -> TargetReport:
    report = reports.report(NOW)
    return dataclasses.replace(report, results=(dataclasses.replace(report.results[0], **changes),))


def test_every_family_has_valid_unique_label_names_and_names_live_in_info_families_only() -> None:
    for family in FAMILIES:
        assert all(LABEL.fullmatch(name) for name in family.label_names), family
        assert len(set(family.label_names)) == len(family.label_names), family
        if {"dnsnames", "ips", "subjectalternative"} & set(family.label_names):
            assert family.kind is Kind.INFO, family
        assert (family.kind is Kind.INFO) == family.name.endswith("_info"), family
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)


def test_a_report_using_every_field_gives_each_series_once() -> None:
    found = list(samples([target(reports.everything(NOW)), target(None, number=2)]))

    counted = Counter((s.family.name, s.labels) for s in found)
    assert [key for key, n in counted.items() if n > 1] == []
    assert {s.family for s in found} == set(FAMILIES)  # every family is served by one report or another
    for sample in found:
        assert len(sample.labels) == len(sample.family.label_names), sample


def test_the_tls_version_and_cipher_read_as_go_names_them() -> None:
    found = one(with_result(tls_version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256"))
    odd = one(with_result(tls_version="SSLv3", cipher="DHE-RSA-AES256-GCM-SHA384"))

    assert values(found, metrics.TLS_VERSION)[0][0]["version"] == "TLS 1.2"
    assert values(found, metrics.SSL_TLS_VERSION)[0][0]["version"] == "TLS 1.2"
    assert values(found, metrics.TLS_CIPHER)[0][0]["cipher"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert values(odd, metrics.TLS_VERSION)[0][0]["version"] == "unknown"
    assert values(odd, metrics.TLS_CIPHER)[0][0]["cipher"] == "DHE-RSA-AES256-GCM-SHA384"  # no Go name: OpenSSL's


def test_serials_ous_and_names_take_each_exporters_form() -> None:
    leaf = dataclasses.replace(
        reports.certificate(NOW),
        serial="abc",
        subject="CN=www.example.com,OU=Web,OU=Ops,O=Example",
        sans=("www.example.com", "example.com"),
        ip_sans=("192.0.2.10", "2001:db8::1"),
    )
    found = one(with_result(leaf=leaf))

    (info, _), *_ = values(found, metrics.LAST_CHAIN_INFO)
    assert info["serialnumber"] == "0abc"  # Go's %x of the serial's bytes
    assert info["subjectalternative"] == "www.example.com,example.com"  # DNS names only, as Go's DNSNames
    (cert, not_after), _ = values(found, metrics.SSL_NOT_AFTER)
    assert (cert["serial_no"], cert["cn"], cert["issuer_cn"], cert["ou"]) == (
        str(0xABC),
        "www.example.com",
        "Example Issuing CA",
        ",Ops,Web,",  # the certificate's order: RFC 4514 text lists the last attribute first
    )
    assert not_after == int(leaf.not_after.timestamp())
    (names, _), _ = values(found, metrics.CERTIFICATE_INFO)
    assert (names["dnsnames"], names["ips"]) == (",www.example.com,example.com,", ",192.0.2.10,2001:db8::1,")


def test_certificates_sent_twice_by_serial_and_issuer_are_counted_once_as_ssl_exporter_does() -> None:
    report = reports.report(NOW)
    twice = (report.results[0].chain[0], report.results[0].chain[0])

    found = one(with_result(chain=twice))

    assert len(values(found, metrics.SSL_NOT_AFTER)) == 2  # the leaf and the intermediate


def test_the_earliest_expiry_is_of_what_was_sent_and_the_last_chains_of_what_verified() -> None:
    report = reports.report(NOW)
    leaf, inter = report.results[0].leaf, report.results[0].chain[0]
    assert leaf is not None
    gone = dataclasses.replace(inter, not_after=NOW - timedelta(days=400), fingerprint_sha256="99" * 32, serial="77")
    root = dataclasses.replace(reports.root(NOW), not_after=NOW + timedelta(days=20))

    found = one(with_result(chain=(inter, gone), verified_chain=(leaf, inter, root)))

    assert values(found, metrics.EARLIEST_EXPIRY)[0][1] == int(gone.not_after.timestamp())
    assert values(found, metrics.LAST_CHAIN_EXPIRY)[0][1] == int(root.not_after.timestamp())
    assert values(found, metrics.PROBE_SUCCESS)[0][1] == 1
    verified = {labels["cn"] for labels, _ in values(found, metrics.SSL_VERIFIED_NOT_AFTER)}
    assert verified == {"www.example.com", "Example Issuing CA", "Example Root"}


def test_without_a_verified_chain_the_probe_fails_and_the_chains_series_are_absent() -> None:
    found = one(reports.report(NOW))  # read, but no chain a client accepts

    assert values(found, metrics.PROBE_SUCCESS)[0][1] == 0
    assert values(found, metrics.SSL_SUCCESS)[0][1] == 0
    assert values(found, metrics.EARLIEST_EXPIRY) != []
    assert values(found, metrics.LAST_CHAIN_EXPIRY) == []
    assert values(found, metrics.SSL_VERIFIED_NOT_AFTER) == []


def test_an_unreachable_address_says_why_in_an_info_series_and_has_no_certificate_series() -> None:
    found = one(reports.unreachable(NOW))

    assert {s.family for s in found} == {
        metrics.TARGET_INFO,
        metrics.LAST_CHECK,
        metrics.CHECK_INFO,
        metrics.PROBE_SUCCESS,
        metrics.SSL_SUCCESS,
        metrics.FINDING,
    }
    (check, _), *_ = values(found, metrics.CHECK_INFO)
    assert (check["status"], check["failure"]) == ("error", "refused")
    (target_info, _), *_ = values(found, metrics.TARGET_INFO)
    assert (target_info["status"], target_info["paused"]) == ("error", "false")


@pytest.mark.parametrize(
    ("revocation", "revoked_finding", "status", "revoked"),
    [
        (Revocation.GOOD, False, 0, 0),
        (Revocation.REVOKED, True, 1, 1),
        (Revocation.UNKNOWN, False, 2, 0),
        (None, True, None, 1),  # an intermediate revoked; the leaf's CA names no source
        (None, False, None, None),  # never asked: no answer is shown as good
    ],
)
def test_what_the_ca_says_of_revocation(
    revocation: Revocation | None, revoked_finding: bool, status: int | None, revoked: int | None
) -> None:
    findings = (Finding(FindingCode.REVOKED, Severity.CRITICAL, "revoked"),) if revoked_finding else ()

    found = one(with_result(revocation=revocation, findings=findings))

    assert [v for _, v in values(found, metrics.SSL_OCSP_STATUS)] == ([] if status is None else [status])
    assert [v for _, v in values(found, metrics.REVOKED)] == ([] if revoked is None else [revoked])


def test_the_renewal_window_overdue_renewal_and_lifetime_headroom() -> None:
    window = RenewalWindow(NOW + timedelta(days=3), NOW + timedelta(days=5))
    overdue = (Finding(FindingCode.RENEWAL_OVERDUE, Severity.WARNING, "overdue"),)
    leaf = reports.certificate(NOW)  # 30 days before NOW to 90 days and an hour after: 120 days and an hour
    issued_2027 = dataclasses.replace(leaf, not_before=datetime(2027, 4, 1, tzinfo=UTC))

    found = one(with_result(renewal_window=window, findings=overdue))
    later = one(with_result(leaf=dataclasses.replace(issued_2027, not_after=issued_2027.not_before + leaf.lifetime)))
    early = one(with_result(leaf=dataclasses.replace(leaf, not_before=datetime(2019, 1, 1, tzinfo=UTC))))

    assert values(found, metrics.ARI_START)[0][1] == window.start.timestamp()
    assert values(found, metrics.ARI_END)[0][1] == window.end.timestamp()
    assert values(found, metrics.RENEWAL_OVERDUE)[0][1] == 1
    assert values(later, metrics.RENEWAL_OVERDUE)[0][1] == 0
    assert values(found, metrics.LIFETIME_HEADROOM)[0][1] == pytest.approx(200 - (120 + 1 / 24))
    assert values(later, metrics.LIFETIME_HEADROOM)[0][1] == pytest.approx(100 - (120 + 1 / 24))  # over: negative
    assert values(early, metrics.LIFETIME_HEADROOM) == []  # issued before any limit


def test_findings_are_counted_by_code_and_severity_the_targets_own_without_an_address() -> None:
    report = reports.everything(NOW)
    twice = (
        Finding(FindingCode.CHAIN_EXPIRING, Severity.WARNING, "one"),
        Finding(FindingCode.CHAIN_EXPIRING, Severity.WARNING, "two"),
    )
    report = dataclasses.replace(report, results=(dataclasses.replace(report.results[0], findings=twice),))

    found = one(report)

    counted = {(labels["address"], labels["code"]): v for labels, v in values(found, metrics.FINDING)}
    assert counted == {("", "ADDRESSES_DISAGREE"): 1, (report.results[0].address, "CHAIN_EXPIRING"): 2}


def test_a_paused_target_keeps_its_last_series_and_says_it_is_paused() -> None:
    found = list(samples([target(reports.report(NOW), paused=True)]))

    (info, _), *_ = values(found, metrics.TARGET_INFO)
    assert info["paused"] == "true"
    assert values(found, metrics.EARLIEST_EXPIRY) != []


def test_both_formats_carry_the_same_series_and_openmetrics_its_types() -> None:
    watched = [target(reports.everything(NOW)), target(reports.unreachable(NOW), team="ops", number=2)]

    om = exposition(samples(watched), "application/openmetrics-text;version=1.0.0")
    text = exposition(samples(watched), "text/plain")

    assert om.content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    assert om.body.endswith(b"# EOF\n")
    assert text.content_type == "text/plain; version=0.0.4; charset=utf-8"
    openmetrics, classic = read_openmetrics(om.body.decode()), read_text(text.body.decode())
    assert openmetrics.names() == classic.names()
    assert _values(openmetrics) == _values(classic)
    types = {family.name: family.type for family in openmetrics.families}
    assert types["probe_ssl_last_chain"] == "info"
    assert types["probe_ssl_earliest_cert_expiry"] == "gauge"
    assert [family.name for family in classic.families][:2] == ["probe_success", "probe_ssl_earliest_cert_expiry"]


def test_an_empty_scrape_is_an_empty_exposition() -> None:
    assert exposition([], "application/openmetrics-text;version=1.0.0").body == b"# EOF\n"
    assert exposition([], None).body == b""


def _values(scrape: Scrape) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): float(s.value) for family in scrape.families for s in family.samples
    }


def test_docs_metrics_md_names_every_series_served_with_its_labels() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()

    for family in FAMILIES:
        assert f"`{family.name}`" in text, family.name
        for label in family.labels:
            assert f"`{label}`" in text, (family.name, label)
