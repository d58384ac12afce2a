"""x509-limbo's server cases through the path of ``certwatch inspect`` (the public conformance suite).

Every SERVER case of ``../shared/conformance/x509-limbo/limbo.json`` (or of the file ``CERTWATCH_LIMBO``
names) is judged as ``certwatch inspect --no-public-roots --ca-file TRUSTED --crl-file CRL --name NAME
--at TIME`` judges a file: the case's trusted certificates are the only (private) anchors, and "refused"
means any critical finding. Where the file is absent, the module is skipped with one line saying so,
except under ``CI=true``, where that is a failure.
Thresholds are off (0 days): limbo asks about validity, not about warnings ahead of expiry.

The cases where certwatch knowingly differs from limbo's expected result are listed below with
their reasons; the test fails when one of them starts to agree (take it off the list) or when
any other case disagrees.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import CheckPolicy, Severity
from chalicelib.domain.revocation import crl_findings, load_crl
from chalicelib.domain.truststore import TrustStore
from chalicelib.domain.x509info import split_bundle

# The suite lives beside the checkout in CI (../shared); CERTWATCH_LIMBO names another copy.
LIMBO = Path(
    os.environ.get("CERTWATCH_LIMBO")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "x509-limbo" / "limbo.json"
)
# pyca/cryptography's verifier alone is right on this many SERVER cases of the same file.
PYCA_ALONE = 157

_CN = "the name is only wrong in the subject CN: TLS clients match subjectAltName only and ignore the CN"
_PEDANTIC_IDS = "a key identifier rule of RFC 5280/CABF that pyca does not enforce and TLS clients ignore"
_CRL = (
    "a CRL that breaks an RFC 5280 rule is not used (REVOCATION_UNKNOWN, info), never taken as a refusal: "
    "certwatch pages nobody on a CRL it cannot rely on"
)
_PYCA = "pyca's verifier refuses a valid chain here (a known limitation): certwatch does not override it"
_CA_LEAF = "a CA certificate as the leaf: RFC 5280 allows it, browsers refuse it (CA_CERTIFICATE_AS_LEAF)"
_PSL = "a wildcard on a public suffix: judging it needs the public suffix list, which certwatch does not carry"
_PRIVATE = "private anchors: a public-CA profile rule that OpenSSL and browsers with that root do not enforce (warning)"
KNOWN_DIFFERENCES: dict[str, str] = {
    "crl::crlnumber-missing": _CRL,
    "crl::crlnumber-critical": _CRL,
    "crl::issuer-missing-crlsign": _CRL,
    "pathlen::validation-ignores-pathlen-in-leaf": _CA_LEAF,
    "rfc5280::ca-as-leaf": _CA_LEAF,
    "pathlen::self-issued-certs-pathlen": _PYCA,
    "pathlen::max-chain-depth-1-self-issued": _PYCA,
    "rfc5280::nc::permitted-dn-match": _PYCA + " (directoryName constraints)",
    "rfc5280::aki::leaf-missing-aki": _PRIVATE,
    "rfc5280::root-non-critical-basic-constraints": _PRIVATE,
    "webpki::aki::root-with-aki-missing-keyidentifier": _PRIVATE,
    "rfc5280::aki::intermediate-missing-aki": _PEDANTIC_IDS,
    "rfc5280::aki::cross-signed-root-missing-aki": _PEDANTIC_IDS,
    "rfc5280::ski::root-missing-ski": _PEDANTIC_IDS,
    "rfc5280::ski::intermediate-missing-ski": _PEDANTIC_IDS,
    "webpki::aki::root-with-aki-all-fields": _PEDANTIC_IDS,
    "webpki::aki::root-with-aki-ski-mismatch": _PEDANTIC_IDS,
    "rfc5280::nc::permitted-dns-match-noncritical": "non-critical name constraints that the leaf satisfies: harmless",
    "rfc5280::pc::ica-noncritical-pc": "a non-critical policy constraints extension: clients ignore it",
    "rfc5280::serial::zero": "a zero serial number: pyca and TLS clients accept it",
    "webpki::cn::ipv4-hex-mismatch": _CN,
    "webpki::cn::ipv4-leading-zeros-mismatch": _CN,
    "webpki::cn::ipv6-uppercase-mismatch": _CN,
    "webpki::cn::ipv6-uncompressed-mismatch": _CN,
    "webpki::cn::ipv6-non-rfc5952-mismatch": _CN,
    "webpki::cn::punycode-not-in-san": _CN,
    "webpki::cn::utf8-vs-punycode-mismatch": _CN,
    "webpki::cn::not-in-san": _CN,
    "webpki::cn::case-mismatch": _CN,
    "webpki::eku::ee-anyeku": "anyExtendedKeyUsage in the leaf: CABF forbids it, TLS clients accept it",
    "webpki::eku::ee-without-eku": "no EKU in the leaf: CABF requires one, TLS clients accept it",
    "webpki::eku::root-has-eku": "an EKU in the root: CABF forbids it, TLS clients accept it",
    "webpki::san::public-suffix-multi-label-wildcard-san": _PSL,
    "webpki::san::public-suffix-private-namespace-wildcard-san": _PSL,
}


def _cases() -> list[dict[str, Any]]:
    if not LIMBO.is_file():
        where = f"the x509-limbo suite is not at {LIMBO}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):  # CI has it: missing there is a failure
            raise FileNotFoundError(f"{where} (CI=true: the conformance cases must run)")
        pytest.skip(
            f"{where}: its 198 conformance cases are not run here (CI runs them; "
            "set CERTWATCH_LIMBO to a copy of that limbo.json to run them)",
            allow_module_level=True,
        )
    document = json.loads(LIMBO.read_text())
    return [case for case in document["testcases"] if case["validation_kind"] == "SERVER"]


CASES = _cases()


def _refused(case: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether certwatch refuses the case's chain, and the critical findings that say why."""
    anchors = [x509.load_pem_x509_certificate(pem.encode()) for pem in case["trusted_certs"]]
    served = split_bundle(case["peer_certificate"].encode())
    served += [der for pem in case["untrusted_intermediates"] for der in split_bundle(pem.encode())]
    moment = case["validation_time"]
    now = datetime.fromisoformat(moment) if moment else datetime.now(UTC)
    name = case["expected_peer_name"]["value"] if case["expected_peer_name"] else None
    analysis = analyze_chain(
        served,
        name=name,
        now=now,
        trust=TrustStore([], anchors),  # --no-public-roots --ca-file: the anchors are private
        policy=CheckPolicy(warn_days=0, critical_days=0),
        max_depth=case["max_chain_depth"],
    )
    crls = [load_crl(pem.encode()) for pem in case.get("crls") or ()]
    findings = analysis.findings + crl_findings(analysis.path, crls, now)
    critical = [f"{f.code.value}: {f.message}" for f in findings if f.severity is Severity.CRITICAL]
    return bool(critical), critical


def test_the_suite_is_the_one_the_readme_describes() -> None:
    assert len(CASES) == 198


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_a_limbo_case(case: dict[str, Any]) -> None:
    refused, why = _refused(case)
    expected_refusal = case["expected_result"] == "FAILURE"
    agrees = refused == expected_refusal
    if case["id"] in KNOWN_DIFFERENCES:
        assert not agrees, f"now agrees with limbo: take it off KNOWN_DIFFERENCES ({why})"
    else:
        assert agrees, f"expected {case['expected_result']}; critical findings: {why}"


def test_certwatch_is_right_at_least_as_often_as_pycas_verifier_alone() -> None:
    known = set(KNOWN_DIFFERENCES)
    assert known <= {case["id"] for case in CASES}, "a known difference names no case of the suite"
    assert len(CASES) - len(known) >= PYCA_ALONE
