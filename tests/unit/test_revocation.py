"""Judging CRLs and OCSP responses: only an answer the issuer signed, current and about the certificate, counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from chalicelib.domain.models import FindingCode, Revocation, Severity
from chalicelib.domain.revocation import (
    crl_findings,
    crl_urls,
    judge_crl,
    judge_ocsp,
    load_crl,
    ocsp_request,
    ocsp_urls,
    revocation_findings,
)
from lab.authority import Revoked, make_crl, ocsp_answer, ocsp_responder_cert, revocation_extensions
from lab.certs import Issued, make_ca, make_cert
from tests.support.pki import Pki

URL = "http://ca.test/int.crl"


def _leaf(pki: Pki, now: datetime) -> Issued:
    return make_cert("leaf.test", issuer=pki.intermediate, now=now, extensions=revocation_extensions(URL))


def _crl(
    issuer: Issued, now: datetime, revoked: list[Revoked] | None = None, **kwargs: Any
) -> x509.CertificateRevocationList:
    return load_crl(make_crl(issuer, revoked or [], now=now, **kwargs))


def test_the_urls_a_certificate_names(pki: Pki, now: datetime) -> None:
    leaf = make_cert(
        "u.test", issuer=pki.intermediate, now=now, extensions=revocation_extensions(URL, "http://ocsp.test")
    )
    assert crl_urls(leaf.cert) == (URL,)
    assert ocsp_urls(leaf.cert) == ("http://ocsp.test",)
    bare = make_cert("bare.test", issuer=pki.intermediate, now=now)
    assert crl_urls(bare.cert) == ()
    assert ocsp_urls(bare.cert) == ()
    ldap = make_cert("ldap.test", issuer=pki.intermediate, now=now, extensions=revocation_extensions("ldap://dir/x"))
    assert crl_urls(ldap.cert) == ()


def test_a_listed_serial_is_revoked_and_an_unlisted_one_is_good(pki: Pki, now: datetime) -> None:
    leaf, other = _leaf(pki, now), _leaf(pki, now)
    when = now - timedelta(days=1)
    crl = _crl(pki.intermediate, now, [Revoked(leaf.cert.serial_number, when, x509.ReasonFlags.ca_compromise)])
    verdict = judge_crl(crl, leaf.cert, pki.intermediate.cert, now, url=URL)
    assert verdict.status is Revocation.REVOKED
    assert verdict.reason == "cACompromise"
    assert verdict.revoked_at == when.replace(microsecond=0)
    assert judge_crl(crl, other.cert, pki.intermediate.cert, now).status is Revocation.GOOD


@pytest.mark.parametrize(
    ("made", "said"),
    [
        (lambda now: {"now": now - timedelta(days=10), "next_update": now - timedelta(days=1)}, "stale"),
        (lambda now: {"now": now + timedelta(days=1)}, "in the future"),
        (lambda now: {"now": now, "number": None}, "no CRL number"),
        (lambda now: {"now": now, "number_critical": True}, "marked critical"),
        (lambda now: {"now": now, "extensions": [(x509.DeltaCRLIndicator(1), True)]}, "delta CRL"),
    ],
    ids=["stale", "future", "no-number", "critical-number", "delta"],
)
def test_a_crl_that_cannot_be_relied_on_says_nothing(
    pki: Pki, now: datetime, made: Callable[[datetime], dict[str, Any]], said: str
) -> None:
    leaf = _leaf(pki, now)
    crl = load_crl(make_crl(pki.intermediate, [Revoked(leaf.cert.serial_number, now - timedelta(days=1))], **made(now)))
    verdict = judge_crl(crl, leaf.cert, pki.intermediate.cert, now)
    assert verdict.status is Revocation.UNKNOWN
    assert said in (verdict.problem or "")


def test_a_crl_signed_by_another_key_under_the_same_name_is_not_used(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    impostor = make_ca(pki.intermediate.cert.subject.rfc4514_string().removeprefix("CN="), issuer=pki.root, now=now)
    crl = _crl(impostor, now, [Revoked(leaf.cert.serial_number, now)])
    verdict = judge_crl(crl, leaf.cert, pki.intermediate.cert, now)
    assert verdict.status is Revocation.UNKNOWN


def test_a_partition_that_does_not_cover_the_certificate_is_not_used(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    point = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier("http://ca.test/other-shard.crl")],
        relative_name=None,
        only_contains_user_certs=True,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    crl = _crl(pki.intermediate, now, extensions=[(point, True)])
    verdict = judge_crl(crl, leaf.cert, pki.intermediate.cert, now, url=URL)
    assert verdict.status is Revocation.UNKNOWN
    assert "partition" in (verdict.problem or "")


def _ocsp(pki: Pki, leaf: Issued, status: ocsp.OCSPCertStatus, now: datetime, **kwargs: Any) -> bytes:
    request = ocsp_request(leaf.cert, pki.intermediate.cert)
    when = now - timedelta(hours=2) if status is ocsp.OCSPCertStatus.REVOKED else None
    reason = x509.ReasonFlags.key_compromise if when else None
    return ocsp_answer(request, pki.intermediate, {leaf.cert.serial_number: (status, when, reason)}, now=now, **kwargs)


def test_an_ocsp_answer_signed_by_the_issuer_or_its_delegate_counts(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    revoked = judge_ocsp(_ocsp(pki, leaf, ocsp.OCSPCertStatus.REVOKED, now), leaf.cert, pki.intermediate.cert, now)
    assert revoked.status is Revocation.REVOKED
    assert revoked.reason == "keyCompromise"
    delegate = ocsp_responder_cert(pki.intermediate, now=now)
    good = _ocsp(pki, leaf, ocsp.OCSPCertStatus.GOOD, now, responder=delegate)
    assert judge_ocsp(good, leaf.cert, pki.intermediate.cert, now).status is Revocation.GOOD


def test_an_ocsp_answer_is_not_used_when_stale_foreign_or_from_a_stranger(pki: Pki, now: datetime) -> None:
    leaf, other = _leaf(pki, now), _leaf(pki, now)
    answer = _ocsp(pki, leaf, ocsp.OCSPCertStatus.REVOKED, now)
    stale = judge_ocsp(answer, leaf.cert, pki.intermediate.cert, now + timedelta(days=5))
    assert stale.status is Revocation.UNKNOWN
    assert "stale" in (stale.problem or "")
    assert judge_ocsp(answer, other.cert, pki.intermediate.cert, now).status is Revocation.UNKNOWN
    stranger = ocsp_responder_cert(make_ca("Somebody Else", now=now), now=now)
    signed_by_stranger = _ocsp(pki, leaf, ocsp.OCSPCertStatus.REVOKED, now, responder=stranger)
    verdict = judge_ocsp(signed_by_stranger, leaf.cert, pki.intermediate.cert, now)
    assert verdict.status is Revocation.UNKNOWN
    assert "not issued by" in (verdict.problem or "")
    unknown = judge_ocsp(_ocsp(pki, leaf, ocsp.OCSPCertStatus.UNKNOWN, now), leaf.cert, pki.intermediate.cert, now)
    assert unknown.status is Revocation.UNKNOWN
    garbage = judge_ocsp(b"\x30\x03\x0a\x01\x06" + b"\x00" * 3, leaf.cert, pki.intermediate.cert, now)
    assert garbage.status is Revocation.UNKNOWN


def test_the_findings_name_the_certificate_and_stay_quiet_when_nobody_answered(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    crl = _crl(pki.intermediate, now, [Revoked(leaf.cert.serial_number, now - timedelta(days=1))])
    (revoked,) = crl_findings([leaf.cert, pki.intermediate.cert, pki.root.cert], [crl], now)
    assert (revoked.code, revoked.severity) == (FindingCode.REVOKED, Severity.CRITICAL)
    assert revoked.message.startswith("the certificate was revoked")
    intermediate_revoked = _crl(pki.root, now, [Revoked(pki.intermediate.cert.serial_number, now)])
    findings = crl_findings([leaf.cert, pki.intermediate.cert, pki.root.cert], [intermediate_revoked], now)
    assert [f.message.split(" was ")[0] for f in findings] == ["intermediate certwatch Test Intermediate"]
    nobody = revocation_findings([(leaf.cert, [judge_crl(_crl(pki.root, now), leaf.cert, pki.intermediate.cert, now)])])
    assert [(f.code, f.severity) for f in nobody] == [(FindingCode.REVOCATION_UNKNOWN, Severity.INFO)]


def test_an_ocsp_request_names_the_certificate_by_its_issuer(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    request = ocsp.load_der_ocsp_request(ocsp_request(leaf.cert, pki.intermediate.cert))
    assert request.serial_number == leaf.cert.serial_number
    digest = hashes.Hash(hashes.SHA1())
    digest.update(pki.intermediate.cert.subject.public_bytes())
    assert request.issuer_name_hash == digest.finalize()
