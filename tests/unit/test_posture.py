"""An address's posture: the class of each key exchange group, the findings a posture policy makes of a
handshake, and what those findings do to a result's status and to alerts."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from chalicelib.domain.alerts import AlertPolicy, AlertState, decide
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import (
    CheckPolicy,
    Endpoint,
    FindingCode,
    PosturePolicy,
    Severity,
    Status,
    TargetReport,
)
from chalicelib.domain.posture import KeyExchange, key_exchange, posture_findings
from lab.certs import make_cert
from tests.support.pki import Pki

H, P, C, U = (
    KeyExchange.HYBRID_POST_QUANTUM,
    KeyExchange.POST_QUANTUM,
    KeyExchange.CLASSICAL,
    KeyExchange.UNKNOWN,
)
DEFAULT, NOTED, REQUIRED = PosturePolicy(), PosturePolicy(note_classical=True), PosturePolicy(require_post_quantum=True)


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        ("X25519MLKEM768", H),
        ("SecP256r1MLKEM768", H),
        ("SecP384r1MLKEM1024", H),
        ("MLKEM512", P),
        ("MLKEM768", P),
        ("MLKEM1024", P),
        ("x25519", C),
        ("x448", C),
        ("secp256r1", C),
        ("secp384r1", C),
        ("secp521r1", C),
        ("prime256v1", C),
        ("ffdhe2048", C),
        ("ffdhe8192", C),
        ("brainpoolP256r1tls13", C),
        ("curveSM2MLKEM768", U),  # ML-KEM in part, but a hybrid not listed: not guessed at
        ("X25519Kyber768Draft00", U),
        ("GC256A", U),
        (None, None),
        ("", None),
    ],
)
def test_each_group_has_its_class(group: str | None, kind: KeyExchange | None) -> None:
    assert key_exchange(group) is kind


def _codes(group: str | None, policy: PosturePolicy, legacy: tuple[str, ...] | None = None) -> dict[str, Severity]:
    found = posture_findings(tls_version="TLSv1.3", group=group, legacy_tls=legacy, policy=policy)
    return {f.code.value: f.severity for f in found}


def test_a_classical_key_exchange_is_a_finding_only_where_the_policy_asks() -> None:
    assert _codes("x25519", DEFAULT) == {}
    assert _codes("x25519", NOTED) == {"NO_POST_QUANTUM_KEY_EXCHANGE": Severity.INFO}
    assert _codes("x25519", REQUIRED) == {"NO_POST_QUANTUM_KEY_EXCHANGE": Severity.WARNING}
    assert _codes("x25519", PosturePolicy(require_post_quantum=True, note_classical=True)) == {
        "NO_POST_QUANTUM_KEY_EXCHANGE": Severity.WARNING
    }


def test_no_group_at_all_is_no_post_quantum_key_exchange_either() -> None:
    (finding,) = posture_findings(tls_version="TLSv1.2", group=None, legacy_tls=None, policy=REQUIRED)
    assert finding.code is FindingCode.NO_POST_QUANTUM_KEY_EXCHANGE
    assert "no key exchange group (RSA key transport)" in finding.message


@pytest.mark.parametrize("group", ["X25519MLKEM768", "MLKEM1024", "curveSM2MLKEM768"])
def test_a_post_quantum_or_unknown_group_is_no_finding(group: str) -> None:
    assert _codes(group, REQUIRED) == {}


def test_legacy_versions_accepted_are_a_warning_once_the_probe_ran() -> None:
    assert _codes("X25519MLKEM768", DEFAULT, ("TLSv1",)) == {"LEGACY_TLS_ACCEPTED": Severity.WARNING}
    assert _codes("X25519MLKEM768", DEFAULT, ()) == {}, "asked, and refused"
    assert _codes("X25519MLKEM768", DEFAULT, None) == {}, "not asked"
    (finding,) = posture_findings(
        tls_version="TLSv1.3", group="X25519MLKEM768", legacy_tls=("TLSv1", "TLSv1.1"), policy=DEFAULT
    )
    assert "TLS 1.0 and TLS 1.1" in finding.message


def test_without_a_handshake_there_is_no_posture_to_judge() -> None:
    assert posture_findings(tls_version=None, group=None, legacy_tls=("TLSv1",), policy=REQUIRED) == ()


def _report(pki: Pki, now: datetime, posture: PosturePolicy, group: str) -> TargetReport:
    leaf = make_cert("api.example.com", sans=["api.example.com"], issuer=pki.intermediate, now=now, days=90)
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der], name="api.example.com", now=now, trust=pki.trust, policy=CheckPolicy()
    )
    result = analysis.result(now, address="192.0.2.10", tls_version="TLSv1.3", group=group, posture=posture)
    return TargetReport(Endpoint("api.example.com", 443), (result,), now)


def test_an_info_posture_finding_leaves_the_status_ok_and_raises_no_alert(pki: Pki, now: datetime) -> None:
    report = _report(pki, now, NOTED, "x25519")

    assert [f.code for f in report.findings] == [FindingCode.NO_POST_QUANTUM_KEY_EXCHANGE]
    assert report.status is Status.OK
    state, events = decide("tg_0000000000aa1b2c3d4e", AlertState(), report, AlertPolicy(), now)
    assert events == []
    assert state.problems == frozenset()


def test_a_required_post_quantum_key_exchange_warns_but_pages_nobody(pki: Pki, now: datetime) -> None:
    report = _report(pki, now, REQUIRED, "secp256r1")

    assert report.status is Status.WARNING
    _, events = decide("tg_0000000000aa1b2c3d4e", AlertState(), report, AlertPolicy(), now)
    assert events == [], "a warning finding is no problem event (those are critical ones)"


def test_a_file_inspected_has_no_posture(pki: Pki, now: datetime) -> None:
    analysis = analyze_chain([pki.intermediate.der], name=None, now=now, trust=pki.trust, policy=CheckPolicy())

    assert analysis.result(now).group is None
    assert FindingCode.NO_POST_QUANTUM_KEY_EXCHANGE not in {f.code for f in analysis.result(now).findings}


def test_the_group_series_names_the_group_and_its_class(now: datetime) -> None:
    from chalicelib.domain import metrics
    from chalicelib.domain.targets import Target, TargetSpec
    from tests.support import reports

    report = reports.report(now)
    named = dataclasses.replace(report, results=(dataclasses.replace(report.results[0], group="SecP256r1MLKEM768"),))
    target = Target("tg_00000000000000000001", "web", TargetSpec(report.endpoint), now, now, now)

    found = [s for s in metrics.samples([metrics.Watched(target, named)]) if s.family is metrics.TLS_GROUP]
    unnamed = [s for s in metrics.samples([metrics.Watched(target, report)]) if s.family is metrics.TLS_GROUP]

    (sample,) = found
    assert sample.labels[-2:] == ("SecP256r1MLKEM768", "hybrid post-quantum")
    assert unnamed == [], "no group named, no series"
