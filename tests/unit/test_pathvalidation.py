"""The verdict of pyca's verifier as certwatch asks for it: profiles, time, caching, reasons."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import CheckPolicy, FindingCode, Severity
from chalicelib.domain.pathvalidation import _verify_cached, plain_reason, verify_path
from chalicelib.domain.truststore import TrustStore
from lab.certs import Issued, make_ca, make_cert, make_key

NAME = "svc.internal.example"
DAY = timedelta(days=1)


def _codes(
    served: list[bytes], trust: TrustStore, now: datetime, name: str | None = NAME
) -> dict[FindingCode, Severity]:
    analysis = analyze_chain(served, name=name, now=now, trust=trust, policy=CheckPolicy())
    return {f.code: f.severity for f in analysis.findings}


def test_a_chain_without_key_identifiers_is_fine_under_a_private_root_and_a_warning_says_why(now: datetime) -> None:
    root = make_ca("Old-school Internal Root", now=now, key_identifiers=False)
    inter = make_ca("Old-school Intermediate", issuer=root, now=now, key_identifiers=False)
    leaf = make_cert(NAME, issuer=inter, now=now, key_identifiers=False)

    private = _codes([leaf.der, inter.der], TrustStore([], [root.cert]), now)
    public = _codes([leaf.der, inter.der], TrustStore([root.cert]), now)

    assert private == {FindingCode.NOT_WEB_PKI_COMPLIANT: Severity.WARNING}
    assert public == {FindingCode.PATH_VALIDATION_FAILED: Severity.CRITICAL}  # a public CA may not do that


def test_the_private_profile_still_enforces_what_clients_enforce(now: datetime) -> None:
    root = make_ca("Internal Root", now=now)
    not_a_ca = make_cert("Not A CA", issuer=root, now=now, sans=[])
    leaf = make_cert(NAME, issuer=not_a_ca, now=now)

    found = _codes([leaf.der, not_a_ca.der], TrustStore([], [root.cert]), now)

    assert found == {FindingCode.INVALID_INTERMEDIATE: Severity.CRITICAL}


def test_an_expired_intermediate_still_gives_the_path_and_is_named(now: datetime) -> None:
    root = make_ca("Root", now=now)
    inter = make_ca("Lapsed Intermediate", issuer=root, not_before=now - 400 * DAY, not_after=now - DAY)
    leaf = make_cert(NAME, issuer=inter, not_before=now - 30 * DAY, now=now)

    verdict = verify_path(leaf.cert, (inter.cert,), subject=NAME, now=now, trust=TrustStore([root.cert]))
    analysis = analyze_chain(
        [leaf.der, inter.der], name=NAME, now=now, trust=TrustStore([root.cert]), policy=CheckPolicy()
    )

    assert verdict.path == (leaf.cert, inter.cert, root.cert)
    assert verdict.refusal is not None
    assert "not valid at validation time" in verdict.refusal
    assert [(f.code, f.severity) for f in analysis.findings] == [(FindingCode.CHAIN_EXPIRING, Severity.CRITICAL)]
    assert analysis.trusted_by == "CN=Root"


def test_a_chain_is_verified_once_within_a_minute(now: datetime) -> None:
    root = make_ca("Cached Root", now=now)
    leaf = make_cert(NAME, issuer=root, now=now)
    trust = TrustStore([root.cert])
    start = now.replace(second=5)
    before = _verify_cached.cache_info()

    first = verify_path(leaf.cert, (), subject=NAME, now=start, trust=trust)
    again = verify_path(leaf.cert, (), subject=NAME, now=start + timedelta(seconds=40), trust=trust)
    later = verify_path(leaf.cert, (), subject=NAME, now=start + timedelta(minutes=1), trust=trust)

    after = _verify_cached.cache_info()
    assert first == again == later
    assert (after.misses - before.misses, after.hits - before.hits) == (2, 1)


def test_a_leaf_holding_an_extension_twice_is_unparseable_in_plain_words(now: datetime) -> None:
    root = make_ca("Root", now=now)
    leaf = make_cert(NAME, issuer=root, now=now, duplicate_san=True)

    analysis = analyze_chain([leaf.der], name=NAME, now=now, trust=TrustStore([root.cert]), policy=CheckPolicy())

    (finding,) = analysis.findings
    assert finding.code is FindingCode.CERTIFICATE_UNPARSEABLE
    assert finding.message == (
        "the leaf, the first certificate of the chain, cannot be parsed: it holds the extension 2.5.29.17 twice"
    )


def test_without_a_name_the_path_alone_is_judged(now: datetime) -> None:
    root = make_ca("Root", now=now)
    leaf = make_cert(NAME, issuer=root, now=now)
    assert _codes([leaf.der], TrustStore([root.cert]), now, name=None) == {}
    assert _codes([leaf.der], TrustStore([]), now, name=None) == {FindingCode.INCOMPLETE_CHAIN: Severity.CRITICAL}


def test_the_verifiers_reason_reads_without_its_object_dumps() -> None:
    raw = (
        "validation failed: candidates exhausted: Forbidden public key algorithm: AlgorithmIdentifier { oid: "
        "DefinedByMarker(PhantomData), params: Dsa(DssParams { p: BigUint }) } (encountered processing "
        "<Certificate(subject=<Name(CN=weak.example)>, ...)>)"
    )
    assert plain_reason(raw) == "Forbidden public key algorithm (at CN=weak.example)"


def _bare_root(now: datetime, name: str, *, constraints_critical: bool = True) -> Issued:
    """A self-signed CA with basicConstraints and a subject key identifier only: no keyUsage."""
    key = make_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 400 * DAY)
        .not_valid_after(now + 4000 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=constraints_critical)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key, cert.public_bytes(serialization.Encoding.DER))


def _messages(served: list[bytes], trust: TrustStore, now: datetime) -> dict[FindingCode, str]:
    analysis = analyze_chain(served, name=NAME, now=now, trust=trust, policy=CheckPolicy())
    return {f.code: f.message for f in analysis.findings}


def test_a_broken_rule_names_the_extension_and_the_certificate_not_an_oid(now: datetime) -> None:
    """Once: "(invalid extension: 2.5.29.15: Certificate is missing required extension)"."""
    root = _bare_root(now, "Bare Internal Root")
    leaf = make_cert(NAME, issuer=root, now=now)

    private = _messages([leaf.der], TrustStore([], [root.cert]), now)
    public = _messages([leaf.der], TrustStore([root.cert]), now)

    assert private == {
        FindingCode.NOT_WEB_PKI_COMPLIANT: "the chain breaks a rule for public CAs: the root CN=Bare Internal Root "
        "has no keyUsage extension, which the CA/Browser Forum requires; accepted because it ends at your own CA "
        "CN=Bare Internal Root, as OpenSSL and browsers with that root installed accept it"
    }
    assert public == {
        FindingCode.PATH_VALIDATION_FAILED: "TLS clients refuse the chain: the root CN=Bare Internal Root has no "
        "keyUsage extension, which the CA/Browser Forum requires"
    }


def test_a_leaf_without_an_authority_key_identifier_is_named_as_the_leaf(now: datetime) -> None:
    root = make_ca("Old-school Internal Root", now=now, key_identifiers=False)
    inter = make_ca("Old-school Intermediate", issuer=root, now=now, key_identifiers=False)
    leaf = make_cert(NAME, issuer=inter, now=now, key_identifiers=False)

    (message,) = _messages([leaf.der, inter.der], TrustStore([], [root.cert]), now).values()

    assert message.startswith(
        f"the chain breaks a rule for public CAs: the leaf CN={NAME} has no authorityKeyIdentifier extension, "
        "which the CA/Browser Forum requires; accepted because"
    )
    assert "2.5.29" not in message


def test_an_extension_of_the_wrong_criticality_says_which_way(now: datetime) -> None:
    root = _bare_root(now, "Soft Root", constraints_critical=False)
    leaf = make_cert(NAME, issuer=root, now=now)
    verdict = verify_path(leaf.cert, (), subject=NAME, now=now, trust=TrustStore([root.cert]))
    raw = verdict.refusal
    assert raw is not None

    assert plain_reason(raw, (leaf.cert, root.cert)) == (
        "the root CN=Soft Root does not mark its basicConstraints extension critical, "
        "which the CA/Browser Forum requires"
    )
    assert plain_reason(raw) == (
        "a CA of the chain marks its basicConstraints extension critical where the CA/Browser Forum forbids it, "
        "or not where it requires it"
    )


def test_a_rule_broken_at_a_named_certificate_outside_the_chain_keeps_the_name() -> None:
    raw = (
        "validation failed: invalid extension: 2.5.29.35: Certificate is missing required extension "
        "(encountered processing <Certificate(subject=<Name(CN=elsewhere.example)>, ...)>)"
    )
    assert plain_reason(raw) == (
        "the certificate CN=elsewhere.example has no authorityKeyIdentifier extension, "
        "which the CA/Browser Forum requires"
    )
    unknown = "validation failed: invalid extension: 1.3.6.1.4.1.55738.666.1: Certificate contains prohibited extension"
    assert plain_reason(unknown) == (
        "a CA of the chain has a 1.3.6.1.4.1.55738.666.1 extension, which the CA/Browser Forum forbids there"
    )


def test_a_ca_certificate_as_the_leaf_reads_without_nested_parentheses(now: datetime) -> None:
    root = make_ca("Root", now=now)
    inter = make_ca("Intermediate", issuer=root, now=now)
    leaf = make_cert(NAME, issuer=inter, now=now, ca=True, sans=[NAME])

    message = _messages([leaf.der, inter.der], TrustStore([root.cert]), now)[FindingCode.CA_CERTIFICATE_AS_LEAF]

    assert message == (
        f"the leaf CN={NAME} is a CA certificate (basicConstraints cA): browsers refuse a CA certificate as a server's"
    )


def test_an_unknown_critical_extension_is_named_with_its_certificate(now: datetime) -> None:
    root = make_ca("Root", now=now)
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.1"), b"\x05\x00")
    leaf = make_cert(NAME, issuer=root, now=now, extensions=[(unknown, True)])

    message = _messages([leaf.der], TrustStore([root.cert]), now)[FindingCode.UNKNOWN_CRITICAL_EXTENSION]

    assert message == (
        "a certificate of the chain has a critical extension that clients do not know and must refuse: "
        f"the leaf CN={NAME} marks its 1.3.6.1.4.1.55738.666.1 extension critical, which clients that do not know "
        "it refuse"
    )
