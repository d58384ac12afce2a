"""The verdict of pyca's verifier as certwatch asks for it: profiles, time, caching, reasons."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import CheckPolicy, FindingCode, Severity
from chalicelib.domain.pathvalidation import _verify_cached, plain_reason, verify_path
from chalicelib.domain.truststore import TrustStore
from lab.certs import make_ca, make_cert

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
