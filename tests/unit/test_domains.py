"""The pure rules of watched domains (domain/domains.py) and of RDAP (domain/rdap.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.rdap import shipped_bootstrap
from chalicelib.domain.domains import (
    Issuance,
    WatchedDomain,
    allowed,
    coalesce,
    in_scope,
    issuer_cn,
    registration_finding,
    registration_threshold,
    suggestions,
    unexpected_issuance,
    watchable,
)
from chalicelib.domain.models import FindingCode, Severity
from chalicelib.domain.rdap import expiration, read_bootstrap, server_table
from chalicelib.errors import InvalidValueError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DOMAIN = WatchedDomain(id="dm_0000000000000001", team="web", domain="example.com", created_at=NOW)


def issuance(**fields: object) -> Issuance:
    base = Issuance(
        id="1",
        tbs_sha256="ab" * 32,
        dns_names=("www.example.com",),
        pubkey_sha256="cd" * 32,
        issuer="C=US, O=Let's Encrypt, CN=R11",
        not_before=NOW - DAY,
        not_after=NOW + 60 * DAY,
        serial="5eed",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_a_precertificate_and_its_certificate_are_one_by_tbs_or_by_issuer_and_serial() -> None:
    precert = issuance(id="1", precert=True)
    final = issuance(id="2", cert_sha256="ef" * 32)
    by_serial = issuance(id="3", tbs_sha256="99" * 32, cert_sha256="ee" * 32)
    other = issuance(id="4", tbs_sha256="11" * 32, serial="77")

    kept = coalesce([precert, final, by_serial, other])

    assert [(i.id, i.precert, i.cert_sha256) for i in kept] == [("1", False, "ef" * 32), ("4", False, None)]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("R11", True),
        ("r11", True),
        ("CN=R11,O=Let's Encrypt,C=US", True),
        ("C=US, O=Let's Encrypt, CN=R11", True),
        ("E6", False),
        ("CN=R11,O=Other,C=US", False),  # a whole name must be the whole name; a CN alone is any CA of that CN
    ],
)
def test_an_issuer_is_allowed_by_its_name_in_either_order_or_its_cn(given: str, expected: bool) -> None:
    assert allowed(replace(DOMAIN, allowed_issuers=(given,)), issuance()) is expected


def test_a_key_allows_whatever_issuer() -> None:
    domain = replace(DOMAIN, allowed_issuers=("E6",), allowed_keys=("CD" * 32,))
    assert allowed(domain, issuance(issuer="CN=Rogue"))
    assert issuer_cn("C=US, O=Let's Encrypt, CN=R11") == "R11"
    assert issuer_cn("O=No CN") == "O=No CN"


def test_unexpected_issuance_names_only_the_domains_names_and_links_crt_sh() -> None:
    domain = replace(DOMAIN, allowed_issuers=("E6",))
    found = unexpected_issuance(domain, issuance(dns_names=("www.example.com", "other.test"), cert_sha256="ef" * 32))

    assert found is not None
    assert found.code is FindingCode.UNEXPECTED_ISSUANCE
    assert "www.example.com" in found.message
    assert "other.test" not in found.message
    assert f"https://crt.sh/?q={'ef' * 32}" in found.message
    assert unexpected_issuance(domain, issuance(dns_names=("other.test",))) is None


def test_scope_is_the_domain_and_its_subdomains_unless_exact() -> None:
    assert in_scope(DOMAIN, "example.com")
    assert in_scope(DOMAIN, "a.b.example.com")
    assert in_scope(DOMAIN, "*.example.com")
    assert not in_scope(DOMAIN, "badexample.com")
    assert not in_scope(replace(DOMAIN, include_subdomains=False), "www.example.com")


def test_suggestions_are_valid_names_no_target_checks() -> None:
    expired = issuance(tbs_sha256="22" * 32, dns_names=("old.example.com",), not_after=NOW - DAY)
    names = issuance(dns_names=("www.example.com", "api.example.com", "*.cdn.example.com"))

    assert suggestions(DOMAIN, [names, expired], {"www.example.com"}, NOW) == ["*.cdn.example.com", "api.example.com"]


@pytest.mark.parametrize(
    ("days", "code", "severity", "threshold"),
    [
        (40, None, None, None),
        (20, FindingCode.DOMAIN_EXPIRING, Severity.WARNING, 30),
        (5, FindingCode.DOMAIN_EXPIRING, Severity.CRITICAL, 7),
    ],
)
def test_the_registrations_end_is_a_finding_within_the_thresholds(
    days: int, code: FindingCode | None, severity: Severity | None, threshold: int | None
) -> None:
    domain = replace(DOMAIN, registration_expires_at=NOW + days * DAY)
    found = registration_finding(domain, NOW)

    assert (found and found.code, found and found.severity) == (code, severity)
    assert registration_threshold(domain, NOW) == threshold


def test_a_domain_with_thresholds_of_its_own_is_told_at_those() -> None:
    domain = replace(DOMAIN, registration_expires_at=NOW + 50 * DAY, alert_days=(60, 45))
    assert registration_threshold(domain, NOW) == 60
    assert registration_finding(replace(domain, alert_days=None), NOW) is None
    found = registration_finding(domain, NOW)
    assert found is not None
    assert found.severity is Severity.WARNING


@pytest.mark.parametrize("name", ["com", "*.example.com", "192.0.2.1", "[2001:db8::1]", "exa mple.com", ""])
def test_what_cannot_be_watched_is_refused(name: str) -> None:
    with pytest.raises(InvalidValueError):
        watchable(name)


def test_a_watched_domain_is_kept_in_a_label_form() -> None:
    assert watchable(" Example.COM. ") == "example.com"
    assert watchable("bücher.example") == "xn--bcher-kva.example"


def test_the_shipped_bootstrap_is_ianas_with_its_date_and_the_longest_suffix_wins() -> None:
    shipped = shipped_bootstrap()
    assert shipped.publication.startswith("20")
    assert shipped.server_for("example.com") == "https://rdap.verisign.com/com/v1/"
    assert shipped.server_for("example.invalid") is None
    # One URL is written with JSON's escaped solidus in the file (it reads like a path of the
    # machine that built it otherwise); it reads back as IANA publishes it, as its neighbour does.
    for tld in ("wedding", "work"):
        assert shipped.server_for(f"example.{tld}") == f"https://rdap.nominet.uk/{tld}/"
    mine = read_bootstrap(
        '{"services": [[["uk"], ["https://uk.test/"]], [["co.uk"], ["http://a/", "https://co.test"]]]}'
    )
    assert mine.server_for("shop.example.co.uk") == "https://co.test/"
    assert mine.over({"uk": "http://127.0.0.1:1/"}).server_for("x.uk") == "http://127.0.0.1:1/"


def test_the_expiration_event_is_read_and_bad_answers_refused() -> None:
    events = [{"eventAction": "registration", "eventDate": "2015-01-01T00:00:00Z"}]
    events.append({"eventAction": "expiration", "eventDate": "2027-01-20T05:00:00+01:00"})
    assert expiration({"objectClassName": "domain", "events": events}) == datetime(2027, 1, 20, 4, tzinfo=UTC)
    assert expiration({"objectClassName": "domain", "events": []}) is None
    bad_answers: list[object] = [
        [],
        {"objectClassName": "entity"},
        {"events": [{"eventAction": "expiration", "eventDate": "soon"}]},
    ]
    for bad in bad_answers:
        with pytest.raises(ValueError, match=r"RDAP|expiration"):
            expiration(bad)
    with pytest.raises(ValueError, match="names no http"):
        server_table('{"com": "ftp://x/"}')


def test_a_certificate_of_the_same_renewal_served_is_not_renewed_not_deployed() -> None:
    """An ECDSA and an RSA certificate ordered together: the endpoint serves one, CT holds both."""
    from chalicelib.domain.domains import renewed_not_deployed
    from chalicelib.domain.models import CertificateInfo, CheckResult, Endpoint, Status, TargetReport

    def served(not_before: datetime, serial: str) -> TargetReport:
        leaf = CertificateInfo(
            "CN=www.example.com",
            "CN=R11",
            serial,
            ("www.example.com",),
            (),
            "EC",
            256,
            "ecdsa-with-SHA256",
            "00" * 32,
            not_before,
            not_before + 90 * DAY,
            False,
            False,
        )
        result = CheckResult("192.0.2.1", Status.OK, NOW, leaf=leaf)
        return TargetReport(Endpoint("www.example.com", 443), (result,), NOW)

    rsa = issuance(not_before=NOW - 3 * DAY + timedelta(minutes=2), serial="beef")
    assert renewed_not_deployed(served(NOW - 3 * DAY, "ec01"), [rsa], NOW) is None
    old = renewed_not_deployed(served(NOW - 60 * DAY, "ec00"), [rsa], NOW)
    assert old is not None
    assert "192.0.2.1" in old.message
