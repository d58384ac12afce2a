from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chalicelib.domain.analysis import MAX_PARSED_CHAIN, MAX_SANE_CHAIN, ChainAnalysis, analyze_chain
from chalicelib.domain.models import CheckPolicy, Finding, FindingCode, Severity, Status, status_for
from chalicelib.domain.truststore import TrustStore
from lab.certs import Issued, make_ca, make_cert
from tests.support.pki import Pki, with_broken_signature

NAME = "www.example.com"
ROOT = "CN=certwatch Test Root"
INTERMEDIATE = "CN=certwatch Test Intermediate"


@pytest.fixture(scope="module")
def rsa_intermediate(pki: Pki) -> Issued:
    """An RSA intermediate under the trusted root: the only kind that can sign SHA-1/MD5 leaves."""
    return make_ca("certwatch RSA Intermediate", issuer=pki.root, key="rsa2048")


@pytest.fixture(scope="module")
def foreign() -> tuple[Issued, Issued]:
    """A root nobody trusts and an intermediate it issued."""
    root = make_ca("Foreign Root")
    return root, make_ca("Foreign Intermediate", issuer=root)


def _analyze(
    served: list[bytes],
    *,
    now: datetime,
    trust: TrustStore,
    name: str = NAME,
    policy: CheckPolicy | None = None,
) -> ChainAnalysis:
    return analyze_chain(served, name=name, now=now, trust=trust, policy=policy or CheckPolicy())


def _codes(analysis: ChainAnalysis) -> list[FindingCode]:
    return [f.code for f in analysis.findings]


def _only(analysis: ChainAnalysis, code: FindingCode) -> Finding:
    matching = [f for f in analysis.findings if f.code is code]
    assert len(matching) == 1, analysis.findings
    return matching[0]


def _leaf(pki: Pki, now: datetime, **kwargs: Any) -> Issued:
    return make_cert(NAME, issuer=pki.intermediate, now=now, **kwargs)


# --- a healthy chain ---------------------------------------------------------------------------


def test_a_healthy_chain_has_no_findings(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert result.findings == ()
    assert status_for(result.findings) is Status.OK
    assert result.trusted_by == ROOT
    assert result.leaf is not None
    assert result.leaf.subject == f"CN={NAME}"
    assert [c.subject for c in result.chain] == [INTERMEDIATE]


def test_a_healthy_chain_that_also_sends_the_root_has_no_findings(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    result = _analyze([leaf.der, pki.intermediate.der, pki.root.der], now=now, trust=pki.trust)
    assert result.findings == ()
    assert result.trusted_by == ROOT
    assert [c.subject for c in result.chain] == [INTERMEDIATE, ROOT]


def test_a_leaf_issued_by_the_root_itself_is_trusted_by_it(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.root, now=now)
    result = _analyze([leaf.der], now=now, trust=pki.trust)
    assert result.findings == ()
    assert result.trusted_by == ROOT


def test_trusted_by_names_an_internal_anchor_added_to_the_store(
    pki: Pki, now: datetime, foreign: tuple[Issued, Issued]
) -> None:
    root, intermediate = foreign
    leaf = make_cert(NAME, issuer=intermediate, now=now)
    trust = pki.trust.with_anchors([root.cert])
    result = _analyze([leaf.der, intermediate.der], now=now, trust=trust)
    assert result.findings == ()
    assert result.trusted_by == "CN=Foreign Root"


# --- validity ----------------------------------------------------------------------------------


def test_an_expired_certificate_is_critical_and_says_when(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, not_before=now - timedelta(days=90), not_after=now - timedelta(hours=3))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.EXPIRED]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "2026-11-27 09:00 UTC" in finding.message
    assert status_for(result.findings) is Status.CRITICAL
    assert result.trusted_by == ROOT  # expiry and trust are judged apart


@pytest.mark.parametrize(
    ("days_left", "policy", "severity", "fragment"),
    [
        (20, CheckPolicy(), Severity.WARNING, "in 20 days"),
        (30, CheckPolicy(), Severity.WARNING, "warning at 30 days"),
        (8, CheckPolicy(), Severity.WARNING, "in 8 days"),
        (7, CheckPolicy(), Severity.CRITICAL, "critical at 7 days"),
        (5, CheckPolicy(), Severity.CRITICAL, "in 5 days"),
        (1, CheckPolicy(), Severity.CRITICAL, "in 1 day ("),
        (45, CheckPolicy(warn_days=60, critical_days=14), Severity.WARNING, "warning at 60 days"),
        (10, CheckPolicy(warn_days=60, critical_days=14), Severity.CRITICAL, "critical at 14 days"),
        (20, CheckPolicy(warn_days=30, critical_days=21), Severity.CRITICAL, "critical at 21 days"),
    ],
)
def test_expiring_soon_follows_the_policy_thresholds(
    pki: Pki, now: datetime, days_left: int, policy: CheckPolicy, severity: Severity, fragment: str
) -> None:
    leaf = _leaf(pki, now, days=days_left)
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust, policy=policy)
    assert _codes(result) == [FindingCode.EXPIRING_SOON]
    finding = result.findings[0]
    assert finding.severity is severity
    assert fragment in finding.message
    expiry = now + timedelta(days=days_left)
    assert f"{expiry:%Y-%m-%d %H:%M} UTC" in finding.message


@pytest.mark.parametrize(
    ("days_left", "policy"),
    [
        (31, CheckPolicy()),
        (89, CheckPolicy()),
        (61, CheckPolicy(warn_days=60, critical_days=14)),
        (20, CheckPolicy(warn_days=10, critical_days=3)),
    ],
)
def test_no_expiry_finding_outside_the_warning_window(
    pki: Pki, now: datetime, days_left: int, policy: CheckPolicy
) -> None:
    leaf = _leaf(pki, now, days=days_left)
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust, policy=policy)
    assert result.findings == ()


def test_expiring_within_a_day_is_said_in_hours(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, not_before=now - timedelta(hours=1), not_after=now + timedelta(hours=5))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    finding = _only(result, FindingCode.EXPIRING_SOON)
    assert finding.severity is Severity.CRITICAL
    assert "in 5 hours" in finding.message


def test_a_certificate_not_yet_valid_is_critical_and_says_from_when(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, not_before=now + timedelta(days=2), not_after=now + timedelta(days=92))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.NOT_YET_VALID]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "2026-11-29 12:00 UTC" in finding.message
    assert status_for(result.findings) is Status.CRITICAL


def test_renewal_overdue_when_under_a_third_of_the_lifetime_is_left(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, not_before=now - timedelta(days=300), not_after=now + timedelta(days=60))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.RENEWAL_OVERDUE]
    finding = result.findings[0]
    assert finding.severity is Severity.WARNING
    assert "60 of the certificate's 360 days" in finding.message
    assert status_for(result.findings) is Status.WARNING


def test_no_renewal_finding_with_forty_percent_of_the_lifetime_left(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, not_before=now - timedelta(days=60), not_after=now + timedelta(days=40))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert result.findings == ()


def test_a_short_lived_certificate_near_its_end_is_both_expiring_and_overdue(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, not_before=now - timedelta(days=70), not_after=now + timedelta(days=20))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.EXPIRING_SOON, FindingCode.RENEWAL_OVERDUE]


# --- names -------------------------------------------------------------------------------------


def test_a_name_outside_the_sans_is_a_critical_mismatch_that_lists_them(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, sans=["api.example.org", "*.cdn.example.org"])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.HOSTNAME_MISMATCH]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert NAME in finding.message
    assert "api.example.org, *.cdn.example.org" in finding.message


def test_a_mismatch_with_many_names_lists_five_and_counts_the_rest(pki: Pki, now: datetime) -> None:
    sans = [f"host{i}.example.org" for i in range(8)]
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, sans=sans)
    finding = _only(_analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust), FindingCode.HOSTNAME_MISMATCH)
    assert "host4.example.org and 3 more" in finding.message
    assert "host5.example.org" not in finding.message


def test_without_any_san_even_a_matching_common_name_is_a_mismatch(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, sans=[])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.HOSTNAME_MISMATCH]
    finding = result.findings[0]
    assert "no subjectAltName" in finding.message
    assert f"CN={NAME}" in finding.message


def test_a_wildcard_san_covers_the_checked_name(pki: Pki, now: datetime) -> None:
    leaf = make_cert("wildcard", issuer=pki.intermediate, now=now, sans=["*.example.com"])
    assert _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust).findings == ()
    apex = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust, name="example.com")
    assert _codes(apex) == [FindingCode.HOSTNAME_MISMATCH]


def test_an_address_is_checked_against_the_ip_sans(pki: Pki, now: datetime) -> None:
    leaf = make_cert("device", issuer=pki.intermediate, now=now, sans=["192.0.2.10", "2001:db8::10"])
    served = [leaf.der, pki.intermediate.der]
    assert _analyze(served, now=now, trust=pki.trust, name="192.0.2.10").findings == ()
    assert _analyze(served, now=now, trust=pki.trust, name="2001:0db8:0:0::10").findings == ()
    other = _analyze(served, now=now, trust=pki.trust, name="192.0.2.11")
    assert _codes(other) == [FindingCode.HOSTNAME_MISMATCH]


def test_a_dns_san_spelling_an_address_does_not_cover_that_address(pki: Pki, now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device")]))
        .issuer_name(pki.intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("192.0.2.10")]), critical=False)
        .sign(pki.intermediate.key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    result = _analyze([der, pki.intermediate.der], now=now, trust=pki.trust, name="192.0.2.10")
    assert _codes(result) == [FindingCode.HOSTNAME_MISMATCH]


# --- trust -------------------------------------------------------------------------------------


def test_a_self_signed_leaf_is_critical(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, now=now)
    result = _analyze([leaf.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.SELF_SIGNED]
    assert result.findings[0].severity is Severity.CRITICAL
    assert result.trusted_by is None


def test_a_self_signed_leaf_that_is_itself_an_anchor_is_fine(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, now=now)
    trust = pki.trust.with_anchors([leaf.cert])
    result = _analyze([leaf.der], now=now, trust=trust)
    assert result.findings == ()
    assert result.trusted_by == f"CN={NAME}"


def test_a_chain_to_an_untrusted_root_names_that_root(pki: Pki, now: datetime, foreign: tuple[Issued, Issued]) -> None:
    intermediate = foreign[1]
    leaf = make_cert(NAME, issuer=intermediate, now=now)
    result = _analyze([leaf.der, intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.UNTRUSTED_ROOT]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "CN=Foreign Root" in finding.message
    assert result.trusted_by is None


def test_a_chain_that_sends_its_untrusted_root_names_that_root(
    pki: Pki, now: datetime, foreign: tuple[Issued, Issued]
) -> None:
    root, intermediate = foreign
    leaf = make_cert(NAME, issuer=intermediate, now=now)
    result = _analyze([leaf.der, intermediate.der, root.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.UNTRUSTED_ROOT]
    assert "CN=Foreign Root" in result.findings[0].message
    assert result.trusted_by is None


def test_a_missing_intermediate_is_an_incomplete_chain(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    result = _analyze([leaf.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.INCOMPLETE_CHAIN]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert INTERMEDIATE in finding.message
    assert result.trusted_by is None
    assert result.chain == ()


def test_an_unrelated_intermediate_does_not_complete_the_chain(
    pki: Pki, now: datetime, foreign: tuple[Issued, Issued]
) -> None:
    leaf = _leaf(pki, now)
    result = _analyze([leaf.der, foreign[1].der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.INCOMPLETE_CHAIN]


# --- the intermediates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "policy", "severity", "fragment"),
    [
        (-1, CheckPolicy(), Severity.CRITICAL, "expired on 2026-11-26"),
        (-200, CheckPolicy(), Severity.CRITICAL, "expired on 2026-05-11"),
        (3, CheckPolicy(), Severity.CRITICAL, "expires in 3 days (2026-11-30)"),
        (7, CheckPolicy(), Severity.CRITICAL, "expires in 7 days"),
        (20, CheckPolicy(), Severity.WARNING, "expires in 20 days (2026-12-17)"),
        (30, CheckPolicy(), Severity.WARNING, "expires in 30 days"),
        (45, CheckPolicy(warn_days=60, critical_days=14), Severity.WARNING, "expires in 45 days"),
        (10, CheckPolicy(warn_days=60, critical_days=14), Severity.CRITICAL, "expires in 10 days"),
    ],
)
def test_an_expiring_intermediate_is_named(
    pki: Pki, now: datetime, days_left: int, policy: CheckPolicy, severity: Severity, fragment: str
) -> None:
    intermediate = make_ca(
        "Short Intermediate",
        issuer=pki.root,
        not_before=now - timedelta(days=400),
        not_after=now + timedelta(days=days_left),
    )
    leaf = make_cert(NAME, issuer=intermediate, now=now, days=89)
    result = _analyze([leaf.der, intermediate.der], now=now, trust=pki.trust, policy=policy)
    assert _codes(result) == [FindingCode.CHAIN_EXPIRING]
    finding = result.findings[0]
    assert finding.severity is severity
    assert "intermediate CN=Short Intermediate" in finding.message
    assert fragment in finding.message
    assert result.trusted_by == ROOT  # an expired intermediate still leads to its root


def test_an_intermediate_outside_the_warning_window_is_fine(pki: Pki, now: datetime) -> None:
    intermediate = make_ca("Short Intermediate", issuer=pki.root, now=now, days=31)
    leaf = make_cert(NAME, issuer=intermediate, now=now)
    result = _analyze([leaf.der, intermediate.der], now=now, trust=pki.trust)
    assert result.findings == ()


def test_more_than_ten_certificates_is_too_long_a_chain(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    served = [leaf.der, *[pki.intermediate.der] * MAX_SANE_CHAIN]
    result = _analyze(served, now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CHAIN_TOO_LONG]
    finding = result.findings[0]
    assert finding.severity is Severity.WARNING
    assert "11 certificates" in finding.message
    assert result.trusted_by == ROOT


def test_ten_certificates_is_not_too_long(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    served = [leaf.der, *[pki.intermediate.der] * (MAX_SANE_CHAIN - 1)]
    assert _analyze(served, now=now, trust=pki.trust).findings == ()


def test_a_hostile_number_of_certificates_is_counted_but_not_all_parsed(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now)
    served = [leaf.der, *[pki.intermediate.der] * 99]
    result = _analyze(served, now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CHAIN_TOO_LONG]
    assert "100 certificates" in result.findings[0].message
    assert len(result.chain) == MAX_PARSED_CHAIN - 1


# --- weaknesses --------------------------------------------------------------------------------


def test_a_1024_bit_rsa_leaf_is_a_weak_key(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, key="rsa1024")
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.WEAK_KEY]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "the certificate has a 1024-bit RSA key (minimum 2048)" in finding.message


def test_a_1024_bit_rsa_intermediate_is_a_weak_key(pki: Pki, now: datetime) -> None:
    intermediate = make_ca("Weak Intermediate", issuer=pki.root, key="rsa1024")
    leaf = make_cert(NAME, issuer=intermediate, now=now)
    result = _analyze([leaf.der, intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.WEAK_KEY]
    assert "intermediate CN=Weak Intermediate has a 1024-bit RSA key" in result.findings[0].message
    assert result.trusted_by == ROOT


@pytest.mark.parametrize("kind", ["ec256", "ec384", "ed25519"])
def test_modern_keys_are_not_weak(pki: Pki, now: datetime, kind: str) -> None:
    leaf = _leaf(pki, now, key=kind)
    assert _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust).findings == ()


def test_a_2048_bit_rsa_leaf_is_not_weak(pki: Pki, now: datetime, rsa_intermediate: Issued) -> None:
    leaf = _leaf(pki, now, key=rsa_intermediate.key)  # reuse the key: RSA generation is slow
    assert _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust).findings == ()


@pytest.mark.parametrize(
    ("hash_name", "algorithm"), [("sha1", "sha1WithRSAEncryption"), ("md5", "md5WithRSAEncryption")]
)
def test_a_legacy_signature_is_weak_but_still_verifies(
    pki: Pki, now: datetime, rsa_intermediate: Issued, hash_name: str, algorithm: str
) -> None:
    leaf = make_cert(NAME, issuer=rsa_intermediate, now=now, hash_name=hash_name)
    result = _analyze([leaf.der, rsa_intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.WEAK_SIGNATURE]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert f"the certificate is signed with {algorithm}" in finding.message
    assert result.trusted_by == ROOT


def test_a_legacy_signature_by_the_wrong_key_does_not_verify(pki: Pki, now: datetime, rsa_intermediate: Issued) -> None:
    impostor = make_ca("certwatch RSA Intermediate", issuer=pki.root, key="rsa1024")
    leaf = make_cert(NAME, issuer=impostor, now=now, hash_name="sha1")
    result = _analyze([leaf.der, rsa_intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.WEAK_SIGNATURE, FindingCode.INVALID_INTERMEDIATE]
    assert (
        "CN=certwatch RSA Intermediate, sent as the issuer, has another key than the one that signed it"
        in result.findings[1].message
    )
    assert result.trusted_by is None


# --- the leaf's key usage ----------------------------------------------------------------------

SERVER_AUTH = (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
_USAGE_ARGUMENTS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _usage(*bits: str) -> tuple[x509.KeyUsage, bool]:
    """A critical keyUsage extension with these bits set and the others clear."""
    return x509.KeyUsage(**{name: name in bits for name in _USAGE_ARGUMENTS}), True


@pytest.fixture(params=["public", "private"])
def either_anchor(request: pytest.FixtureRequest, pki: Pki) -> TrustStore:
    """The test root as a public root, then as a team's own CA (``--ca-file``): the leaf's rules bind both."""
    return pki.trust if request.param == "public" else TrustStore([], [pki.root.cert])


def test_a_leaf_whose_key_usage_is_crl_sign_only_is_not_for_tls_servers(
    pki: Pki, now: datetime, either_anchor: TrustStore
) -> None:
    leaf = _leaf(pki, now, extensions=[_usage("crl_sign"), SERVER_AUTH])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=either_anchor)
    finding = _only(result, FindingCode.NOT_FOR_SERVER_AUTH)
    assert _codes(result) == [FindingCode.NOT_FOR_SERVER_AUTH]
    assert finding.severity is Severity.CRITICAL
    assert "key usage (cRLSign)" in finding.message
    assert "unsuitable certificate purpose" in finding.message
    # The path stays known (revocation is checked on it), only the leaf's purpose is wrong.
    assert result.trusted_by == ROOT
    assert result.path == (leaf.cert, pki.intermediate.cert, pki.root.cert)


def test_a_key_usage_with_no_bit_set_is_not_for_tls_servers(pki: Pki, now: datetime, either_anchor: TrustStore) -> None:
    empty = _usage()
    assert empty[0].public_bytes() == bytes.fromhex("030100")  # a BIT STRING with no bit: RFC 5280 forbids it
    leaf = _leaf(pki, now, extensions=[empty, SERVER_AUTH])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=either_anchor)
    assert _codes(result) == [FindingCode.NOT_FOR_SERVER_AUTH]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "sets no bit" in finding.message


@pytest.mark.parametrize(
    ("key", "bits"),
    [
        ("ec256", ("digital_signature",)),
        ("rsa2048", ("digital_signature",)),
        ("rsa2048", ("digital_signature", "key_encipherment")),
        ("ed25519", ("digital_signature",)),
    ],
)
def test_a_leaf_allowed_to_sign_is_fine(
    pki: Pki, now: datetime, either_anchor: TrustStore, key: str, bits: tuple[str, ...]
) -> None:
    leaf = _leaf(pki, now, key=key, extensions=[_usage(*bits), SERVER_AUTH])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=either_anchor)
    assert result.findings == ()


@pytest.mark.parametrize(
    ("key", "bits", "fragment"),
    [
        ("ec256", ("key_encipherment",), "which its EC key needs in every TLS handshake"),
        ("ec256", ("key_agreement",), "which its EC key needs in every TLS handshake"),
        ("ed25519", ("key_encipherment",), "which its Ed25519 key needs in every TLS handshake"),
        ("rsa2048", ("key_encipherment",), "unless the server picks TLS 1.2 with RSA key exchange"),
        ("rsa2048", ("key_agreement",), "which TLS 1.3 and ECDHE handshakes need: browsers and Java refuse it ("),
    ],
)
def test_a_leaf_not_allowed_to_sign_is_not_for_tls_servers(
    pki: Pki, now: datetime, either_anchor: TrustStore, key: str, bits: tuple[str, ...], fragment: str
) -> None:
    leaf = _leaf(pki, now, key=key, extensions=[_usage(*bits), SERVER_AUTH])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=either_anchor)
    assert _codes(result) == [FindingCode.NOT_FOR_SERVER_AUTH]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "lacks digitalSignature" in finding.message
    assert fragment in finding.message


def test_a_leaf_without_a_name_is_judged_by_its_key_usage_too(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, extensions=[_usage("crl_sign")])
    result = analyze_chain([leaf.der, pki.intermediate.der], name=None, now=now, trust=pki.trust, policy=CheckPolicy())
    assert _codes(result) == [FindingCode.NOT_FOR_SERVER_AUTH]


def test_a_wrong_extended_key_usage_and_a_wrong_key_usage_are_two_findings(pki: Pki, now: datetime) -> None:
    client_only = (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    leaf = _leaf(pki, now, extensions=[_usage("crl_sign"), client_only])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    messages = [f.message for f in result.findings if f.code is FindingCode.NOT_FOR_SERVER_AUTH]
    assert _codes(result) == [FindingCode.NOT_FOR_SERVER_AUTH, FindingCode.NOT_FOR_SERVER_AUTH]
    assert "extended key usage" in messages[0]
    assert "key usage (cRLSign)" in messages[1]


def test_a_leaf_that_may_sign_certificates_is_still_refused_by_the_verifier(
    pki: Pki, now: datetime, either_anchor: TrustStore
) -> None:
    leaf = _leaf(pki, now, extensions=[_usage("digital_signature", "key_cert_sign"), SERVER_AUTH])
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=either_anchor)
    assert _codes(result) == [FindingCode.PATH_VALIDATION_FAILED]
    assert "keyUsage must not assert keyCertSign" in result.findings[0].message


def test_a_ca_certificate_as_the_leaf_is_named_once_not_again_for_its_key_usage(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, ca=True, sans=[NAME])  # keyCertSign, cRLSign
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CA_CERTIFICATE_AS_LEAF]


# --- signatures that do not verify -------------------------------------------------------------


def test_a_leaf_whose_signature_is_broken_says_so_and_names_the_intermediate(
    pki: Pki, now: datetime, either_anchor: TrustStore
) -> None:
    leaf = with_broken_signature(_leaf(pki, now))
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=either_anchor)
    assert _codes(result) == [FindingCode.BAD_SIGNATURE]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert finding.message.startswith(
        f"the signature of the server's certificate does not verify with the key of its issuer, {INTERMEDIATE} "
        "(sent by the server): the certificate is damaged or altered"
    )
    assert "certificate signature failure" in finding.message
    assert result.trusted_by is None


def test_a_leaf_whose_signature_is_broken_names_the_trusted_root_that_issued_it(
    pki: Pki, now: datetime, either_anchor: TrustStore
) -> None:
    leaf = with_broken_signature(make_cert(NAME, issuer=pki.root, now=now))
    result = _analyze([leaf.der], now=now, trust=either_anchor)
    assert _codes(result) == [FindingCode.BAD_SIGNATURE]  # not INCOMPLETE_CHAIN: nothing is missing
    assert (
        "the signature of the server's certificate does not verify with the key of its issuer, "
        f"the trusted root {ROOT}:" in result.findings[0].message
    )


@pytest.mark.parametrize("root_sent", [False, True])
def test_an_intermediate_whose_signature_is_broken_is_named_with_its_issuer(
    pki: Pki, now: datetime, either_anchor: TrustStore, root_sent: bool
) -> None:
    leaf = _leaf(pki, now)
    served = [leaf.der, with_broken_signature(pki.intermediate).der, *([pki.root.der] if root_sent else [])]
    result = _analyze(served, now=now, trust=either_anchor)
    assert _codes(result) == [FindingCode.BAD_SIGNATURE]  # not UNTRUSTED_ROOT: the root is trusted
    whose = f"{ROOT} (sent by the server)" if root_sent else f"the trusted root {ROOT}"
    assert (
        f"the signature of intermediate {INTERMEDIATE} does not verify with the key of its issuer, {whose}:"
        in result.findings[0].message
    )


def test_a_broken_signature_without_key_identifiers_may_also_be_another_ca_of_that_name(now: datetime) -> None:
    root = make_ca("Old-school Root", now=now, key_identifiers=False)
    inter = make_ca("Old-school Intermediate", issuer=root, now=now, key_identifiers=False)
    leaf = with_broken_signature(make_cert(NAME, issuer=inter, now=now, key_identifiers=False))
    result = _analyze([leaf.der, inter.der], now=now, trust=TrustStore([], [root.cert]))
    assert _codes(result) == [FindingCode.BAD_SIGNATURE]
    assert "damaged or altered, or another CA of that name issued it" in result.findings[0].message


def test_an_intermediate_of_that_name_that_did_not_sign_it_is_not_a_broken_signature(pki: Pki, now: datetime) -> None:
    root = make_ca("Old-school Root", now=now, key_identifiers=False)  # trusted by nobody here
    signer = make_ca("Old-school Intermediate", issuer=root, now=now, key_identifiers=False)
    namesake = make_ca("Old-school Intermediate", issuer=root, now=now, key_identifiers=False)
    leaf = make_cert(NAME, issuer=signer, now=now, key_identifiers=False)
    result = _analyze([leaf.der, namesake.der, signer.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.INVALID_INTERMEDIATE]
    assert "the key of CN=Old-school Intermediate, sent as the issuer, did not sign it (another did)" in (
        result.findings[0].message
    )


# --- what cannot be read -----------------------------------------------------------------------


def test_an_unparseable_leaf_is_critical_and_ends_the_analysis(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, ber_boolean=True)
    result = _analyze([leaf.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CERTIFICATE_UNPARSEABLE]
    finding = result.findings[0]
    assert finding.severity is Severity.CRITICAL
    assert "the leaf, the first certificate of the chain, cannot be parsed" in finding.message
    assert (result.leaf, result.chain, result.trusted_by) == (None, (), None)
    assert status_for(result.findings) is Status.CRITICAL


def test_garbage_instead_of_a_certificate_is_unparseable(pki: Pki, now: datetime) -> None:
    result = _analyze([b"\x30\x03\x02\x01\x00"], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CERTIFICATE_UNPARSEABLE]
    assert result.leaf is None


def test_no_certificate_at_all_is_unparseable(pki: Pki, now: datetime) -> None:
    result = _analyze([], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CERTIFICATE_UNPARSEABLE]
    assert result.findings[0].severity is Severity.CRITICAL
    assert "no certificate" in result.findings[0].message
    assert result.leaf is None


def test_an_unparseable_intermediate_is_a_warning_and_the_analysis_goes_on(pki: Pki, now: datetime) -> None:
    broken = make_cert("Broken Intermediate", issuer=pki.root, now=now, ber_boolean=True)
    leaf = _leaf(pki, now, days=20)
    result = _analyze([leaf.der, broken.der, pki.intermediate.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CERTIFICATE_UNPARSEABLE, FindingCode.EXPIRING_SOON]
    finding = result.findings[0]
    assert finding.severity is Severity.WARNING
    assert "certificate 2 of the chain cannot be parsed" in finding.message
    assert result.leaf is not None
    assert [c.subject for c in result.chain] == [INTERMEDIATE]
    assert result.trusted_by == ROOT
    assert status_for(result.findings) is Status.WARNING


def test_an_unparseable_only_intermediate_is_named_as_the_unusable_one(pki: Pki, now: datetime) -> None:
    broken = make_cert("Broken Intermediate", issuer=pki.root, now=now, ber_boolean=True)
    leaf = _leaf(pki, now)
    result = _analyze([leaf.der, broken.der], now=now, trust=pki.trust)
    assert _codes(result) == [FindingCode.CERTIFICATE_UNPARSEABLE, FindingCode.INVALID_INTERMEDIATE]
    assert "certificate 2 of the chain cannot be parsed" in result.findings[1].message
    assert result.findings[1].severity is Severity.CRITICAL


# --- several problems at once ------------------------------------------------------------------


def test_every_problem_gets_its_own_finding(pki: Pki, now: datetime) -> None:
    leaf = make_cert(
        "other.example.org", now=now, not_before=now - timedelta(days=100), not_after=now - timedelta(days=2)
    )
    result = _analyze([leaf.der], now=now, trust=pki.trust)
    assert sorted(_codes(result)) == sorted(
        [FindingCode.EXPIRED, FindingCode.HOSTNAME_MISMATCH, FindingCode.SELF_SIGNED]
    )
    assert all(f.severity is Severity.CRITICAL for f in result.findings)
    assert status_for(result.findings) is Status.CRITICAL


def test_weaknesses_expiry_and_name_are_reported_together(pki: Pki, now: datetime, rsa_intermediate: Issued) -> None:
    leaf = make_cert("other.example.org", issuer=rsa_intermediate, now=now, key="rsa1024", hash_name="sha1", days=5)
    result = _analyze([leaf.der, rsa_intermediate.der], now=now, trust=pki.trust)
    assert sorted(_codes(result)) == sorted(
        [FindingCode.EXPIRING_SOON, FindingCode.HOSTNAME_MISMATCH, FindingCode.WEAK_KEY, FindingCode.WEAK_SIGNATURE]
    )
    assert result.trusted_by == ROOT


def test_warnings_alone_amount_to_a_warning_status(pki: Pki, now: datetime) -> None:
    leaf = _leaf(pki, now, days=20)
    served = [leaf.der, *[pki.intermediate.der] * MAX_SANE_CHAIN]
    result = _analyze(served, now=now, trust=pki.trust)
    assert sorted(_codes(result)) == sorted([FindingCode.CHAIN_TOO_LONG, FindingCode.EXPIRING_SOON])
    assert status_for(result.findings) is Status.WARNING


def test_days_left_and_the_expiry_message_agree_within_the_second_after_a_whole_day(pki: Pki, now: datetime) -> None:
    # A certificate that expires exactly ten days after it was made, checked 0.4 s later: the
    # table's DAYS and "expires in N days" count the same 9 days and 23 hours the same way.
    leaf = make_cert("fresh.example", issuer=pki.intermediate, not_before=now, not_after=now + timedelta(days=10))
    moment = now + timedelta(seconds=0.4)
    policy = CheckPolicy(warn_days=30)
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der], name="fresh.example", now=moment, trust=pki.trust, policy=policy
    )
    result = analysis.result(moment)
    (expiring,) = [f for f in result.findings if f.code is FindingCode.EXPIRING_SOON]
    assert result.days_left == 9
    assert "expires in 9 days" in expiring.message
