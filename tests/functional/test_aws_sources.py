"""The ACM and IAM certificate sources: against moto, and against botocore's Stubber where moto cannot tell
(pagination, which moto ignores; errors of one region or one certificate; throttling)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from chalicelib.adapters.certificates import ACM_KEY_TYPES, AcmSource, IamSource
from chalicelib.domain.inventory import ManagedCertificate, Source
from chalicelib.errors import InvalidValueError, NotFoundError, SourceError, ThrottledError
from lab.certs import Issued, make_cert

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_iam import IAMClient

    from tests.support.pki import Pki

EU, US = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"
LIST_REQUEST = {"MaxItems": 100, "Includes": {"keyTypes": list(ACM_KEY_TYPES)}}
# A timezone that is not UTC, as botocore hands ACM's epoch timestamps back in the local zone.
PLUS_TWO = timezone(timedelta(hours=2))


def seconds(moment: datetime) -> datetime:
    """A minted date as a certificate stores it: to the second."""
    return moment.replace(microsecond=0)


@dataclass(frozen=True)
class Imported:
    arn: str
    issued: Issued
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class AcmWorld:
    """Certificates imported into ACM in two regions, one behind an HTTPS listener, and one ACM issued."""

    clients: dict[str, ACMClient]
    leaf_rsa: Imported  # eu-west-1, in use by a load balancer
    leaf_ec256: Imported  # eu-west-1
    leaf_ec384: Imported  # us-east-1
    amazon_issued: str  # us-east-1

    def source(self) -> AcmSource:
        return AcmSource(self.clients.__getitem__, [EU, US])


def _import(client: ACMClient, pki: Pki, cn: str, key: str, not_before: datetime, not_after: datetime) -> Imported:
    issued = make_cert(
        cn, sans=[cn, f"www.{cn}"], issuer=pki.intermediate, key=key, not_before=not_before, not_after=not_after
    )
    arn = client.import_certificate(
        Certificate=issued.pem, PrivateKey=issued.key_pem, CertificateChain=pki.intermediate.pem
    )["CertificateArn"]
    return Imported(arn, issued, not_before, not_after)


def _https_listener(region: str, certificate_arn: str) -> None:
    ec2 = boto3.client("ec2", region_name=region)
    elb = boto3.client("elbv2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in enumerate("ab", start=1)
    ]
    balancer = elb.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    group = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elb.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate_arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )


@pytest.fixture(scope="module")
def acm_world(pki: Pki) -> Iterator[AcmWorld]:
    """Built once per module: moto checks dates against the real clock, so validity is relative to it."""
    # The autouse credentials fixture is function-scoped, so it is not active yet at module scope.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": EU,
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            clients = {region: boto3.client("acm", region_name=region) for region in (EU, US)}
            now = datetime.now(UTC)
            leaf_rsa = _import(
                clients[EU], pki, "shop.example", "rsa2048", now - timedelta(days=50), now + timedelta(days=40)
            )
            leaf_ec256 = _import(
                clients[EU], pki, "api.example", "ec256", now - timedelta(days=10), now + timedelta(days=300)
            )
            leaf_ec384 = _import(
                clients[US], pki, "cdn.example", "ec384", now - timedelta(days=10), now + timedelta(days=300)
            )
            amazon_issued = clients[US].request_certificate(
                DomainName="www.shop.example", SubjectAlternativeNames=["www.shop.example"], ValidationMethod="DNS"
            )["CertificateArn"]
            _https_listener(EU, leaf_rsa.arn)
            clients[EU].add_tags_to_certificate(
                CertificateArn=leaf_ec256.arn,
                Tags=[{"Key": "owner", "Value": "api-team"}, {"Key": "runbook", "Value": "https://wiki.example/api"}],
            )
            yield AcmWorld(clients, leaf_rsa, leaf_ec256, leaf_ec384, amazon_issued)


# --- ACM on moto ---------------------------------------------------------------------------------


def test_acm_lists_every_certificate_of_every_region(acm_world: AcmWorld) -> None:
    scanned = acm_world.source().scan()
    found = {cert.arn: cert for cert in scanned.certificates}

    assert scanned.failures == ()
    expected = {acm_world.leaf_rsa.arn, acm_world.leaf_ec256.arn, acm_world.leaf_ec384.arn, acm_world.amazon_issued}
    assert set(found) == expected
    imports = (
        (acm_world.leaf_rsa, EU, "RSA_2048"),
        (acm_world.leaf_ec256, EU, "EC_prime256v1"),
        (acm_world.leaf_ec384, US, "EC_secp384r1"),
    )
    for imported, region, key_algorithm in imports:
        cert = found[imported.arn]
        cn = imported.issued.cert.subject.rfc4514_string().removeprefix("CN=")
        assert cert.source is Source.ACM
        assert cert.region == region
        assert (cert.domain, cert.sans) == (cn, (cn, f"www.{cn}"))
        assert (cert.type, cert.status) == ("IMPORTED", "ISSUED")
        assert cert.key_algorithm == key_algorithm
        assert cert.issuer == "certwatch Test Intermediate"  # moto answers the issuer's CN
        assert cert.not_before == seconds(imported.not_before)
        assert cert.not_after == seconds(imported.not_after)
        assert cert.not_before.tzinfo is UTC
        assert cert.not_after.tzinfo is UTC
        assert cert.serial
        assert cert.renewal_eligibility == "INELIGIBLE"
        assert not cert.auto_renewed
        tagged = imported is acm_world.leaf_ec256
        assert (cert.owner, cert.runbook_url) == (("api-team", "https://wiki.example/api") if tagged else (None, None))

    issued = found[acm_world.amazon_issued]
    assert (issued.region, issued.type, issued.domain) == (US, "AMAZON_ISSUED", "www.shop.example")
    assert issued.status in {"PENDING_VALIDATION", "ISSUED"}
    assert issued.not_after is not None
    assert issued.not_after.tzinfo is UTC


def test_acm_in_use_by_comes_from_the_load_balancer_listener(acm_world: AcmWorld) -> None:
    found = {cert.arn: cert for cert in acm_world.source().scan().certificates}

    in_use_by = found[acm_world.leaf_rsa.arn].in_use_by
    assert len(in_use_by) == 1
    assert in_use_by[0].startswith(f"arn:aws:elasticloadbalancing:{EU}:")
    assert found[acm_world.leaf_ec256.arn].in_use_by == ()
    assert found[acm_world.leaf_ec384.arn].in_use_by == ()


def test_acm_describes_one_certificate_by_arn_in_its_region(acm_world: AcmWorld) -> None:
    source = acm_world.source()
    listed = {cert.arn: cert for cert in source.scan().certificates}

    cert = source.describe(acm_world.leaf_ec384.arn)

    assert cert == listed[acm_world.leaf_ec384.arn]
    assert cert.region == US
    with pytest.raises(NotFoundError):
        source.describe(f"arn:aws:acm:{US}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidValueError):
        source.describe("arn:aws:iam::123456789012:server-certificate/web")


# --- ACM through the Stubber -----------------------------------------------------------------------


def _arn(region: str, number: int) -> str:
    return f"arn:aws:acm:{region}:{ACCOUNT}:certificate/{number:08d}-0000-4000-8000-000000000000"


def _listed(*arns: str, token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "CertificateSummaryList": [{"CertificateArn": arn, "DomainName": "x.example"} for arn in arns]
    }
    if token:
        page["NextToken"] = token
    return page


def _described(arn: str, **fields: Any) -> dict[str, Any]:
    certificate = {
        "CertificateArn": arn,
        "DomainName": f"{arn[-4:]}.example",
        "SubjectAlternativeNames": [f"{arn[-4:]}.example"],
        "Type": "AMAZON_ISSUED",
        "Status": "ISSUED",
        "NotBefore": datetime(2026, 9, 1, 2, 0, tzinfo=PLUS_TWO),
        "NotAfter": datetime(2027, 10, 1, 1, 59, 59, tzinfo=PLUS_TWO),
        "KeyAlgorithm": "RSA_2048",
        "Issuer": "Amazon",
        "Serial": "0a:1b:2c",
        "RenewalEligibility": "ELIGIBLE",
        "InUseBy": [],
    }
    return {"Certificate": certificate | fields}


def _tags(**tags: str) -> dict[str, Any]:
    return {"Tags": [{"Key": key.replace("__", ":"), "Value": value} for key, value in tags.items()]}


def _readable(stub: Stubber, arn: str, tags: dict[str, Any] | None = None, **fields: Any) -> None:
    """Script describing ``arn`` and listing its tags (none unless given)."""
    stub.add_response("describe_certificate", _described(arn, **fields), {"CertificateArn": arn})
    stub.add_response("list_tags_for_certificate", tags or {}, {"CertificateArn": arn})  # ACM leaves Tags out when none


@pytest.fixture
def stubbed() -> Iterator[dict[str, Stubber]]:
    """Real ACM clients in two regions whose every call is scripted (nothing leaves the process)."""
    stubs = {region: Stubber(boto3.client("acm", region_name=region)) for region in (EU, US)}
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def _source(stubs: dict[str, Stubber], *regions: str) -> AcmSource:
    # A Stubber scripts the real ACM client it was made with.
    return AcmSource(lambda region: cast("ACMClient", stubs[region].client), regions or (EU, US))


def test_acm_follows_next_token_across_pages(stubbed: dict[str, Stubber]) -> None:
    stub = stubbed[EU]
    first, second, third = _arn(EU, 1), _arn(EU, 2), _arn(EU, 3)
    stub.add_response("list_certificates", _listed(first, second, token="page-2"), LIST_REQUEST)
    stub.add_response("list_certificates", _listed(third), LIST_REQUEST | {"NextToken": "page-2"})
    for arn in (first, second, third):
        _readable(stub, arn)

    found = _source(stubbed, EU).scan().certificates

    assert [cert.arn for cert in found] == [first, second, third]


def test_acm_maps_every_field_of_describe_certificate(stubbed: dict[str, Stubber]) -> None:
    arn = _arn(US, 7)
    renewal = {
        "RenewalStatus": "PENDING_VALIDATION",
        "RenewalStatusReason": "NO_AVAILABLE_CONTACTS",
        "DomainValidationOptions": [{"DomainName": "shop.example"}],
        "UpdatedAt": datetime(2026, 11, 1, tzinfo=UTC),
    }
    response = _described(
        arn,
        DomainName="shop.example",
        SubjectAlternativeNames=["shop.example", "*.shop.example"],
        KeyAlgorithm="RSA-4096",  # the hyphenated spelling DescribeCertificate has been seen using
        RenewalSummary=renewal,
        InUseBy=["arn:aws:cloudfront::123456789012:distribution/E1"],
    )
    stubbed[US].add_response("describe_certificate", response, {"CertificateArn": arn})
    tags = _tags(
        Owner="ignored: certwatch:owner wins", certwatch__owner="web-oncall", runbook="https://wiki.example/tls"
    )
    stubbed[US].add_response("list_tags_for_certificate", tags, {"CertificateArn": arn})

    cert = _source(stubbed).describe(arn)

    assert cert == ManagedCertificate(
        source=Source.ACM,
        arn=arn,
        region=US,
        domain="shop.example",
        sans=("shop.example", "*.shop.example"),
        type="AMAZON_ISSUED",
        status="ISSUED",
        not_before=datetime(2026, 9, 1, 0, 0, tzinfo=UTC),
        not_after=datetime(2027, 9, 30, 23, 59, 59, tzinfo=UTC),
        key_algorithm="RSA_4096",
        issuer="Amazon",
        serial="0a:1b:2c",
        renewal_eligibility="ELIGIBLE",
        renewal_status="PENDING_VALIDATION",
        renewal_reason="NO_AVAILABLE_CONTACTS",
        in_use_by=("arn:aws:cloudfront::123456789012:distribution/E1",),
        owner="web-oncall",
        runbook_url="https://wiki.example/tls",
    )
    assert cert.not_after is not None
    assert cert.not_after.tzinfo is UTC


def test_acm_skips_a_certificate_deleted_between_list_and_describe(stubbed: dict[str, Stubber]) -> None:
    stub = stubbed[EU]
    gone, kept = _arn(EU, 1), _arn(EU, 2)
    stub.add_response("list_certificates", _listed(gone, kept), LIST_REQUEST)
    stub.add_client_error("describe_certificate", "ResourceNotFoundException", expected_params={"CertificateArn": gone})
    _readable(stub, kept)

    scanned = _source(stubbed, EU).scan()

    assert [cert.arn for cert in scanned.certificates] == [kept]
    assert scanned.failures == ()


@pytest.mark.parametrize(
    "code",
    ["AccessDeniedException", "UnrecognizedClientException"],  # the latter: an opt-in region not enabled
)
def test_acm_region_that_fails_is_recorded_and_the_others_are_read(stubbed: dict[str, Stubber], code: str) -> None:
    stubbed[EU].add_client_error("list_certificates", code, "not for you", expected_params=LIST_REQUEST)
    arn = _arn(US, 1)
    stubbed[US].add_response("list_certificates", _listed(arn), LIST_REQUEST)
    _readable(stubbed[US], arn)

    scanned = _source(stubbed).scan()

    assert [cert.arn for cert in scanned.certificates] == [arn]
    assert len(scanned.failures) == 1
    region, message = scanned.failures[0]
    assert region == EU
    assert code in message
    assert "not for you" in message


def test_acm_unreachable_region_is_recorded_too(stubbed: dict[str, Stubber]) -> None:
    class Unreachable:
        def list_certificates(self, **request: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://acm.ap-east-2.amazonaws.com/")

    arn = _arn(US, 1)
    stubbed[US].add_response("list_certificates", _listed(arn), LIST_REQUEST)
    _readable(stubbed[US], arn)
    clients = {"ap-east-2": cast("ACMClient", Unreachable()), US: cast("ACMClient", stubbed[US].client)}

    scanned = AcmSource(clients.__getitem__, ["ap-east-2", US]).scan()

    assert [cert.arn for cert in scanned.certificates] == [arn]
    assert [region for region, _ in scanned.failures] == ["ap-east-2"]


def test_acm_one_certificate_that_cannot_be_described_is_recorded(stubbed: dict[str, Stubber]) -> None:
    denied, kept = _arn(EU, 1), _arn(EU, 2)
    stubbed[EU].add_response("list_certificates", _listed(denied, kept), LIST_REQUEST)
    stubbed[EU].add_client_error(
        "describe_certificate", "AccessDeniedException", expected_params={"CertificateArn": denied}
    )
    _readable(stubbed[EU], kept)

    scanned = _source(stubbed, EU).scan()

    assert [cert.arn for cert in scanned.certificates] == [kept]
    assert [(region, denied in message) for region, message in scanned.failures] == [(EU, True)]


@pytest.mark.parametrize("operation", ["list_certificates", "describe_certificate", "list_tags_for_certificate"])
def test_acm_throttling_raises_throttled_error(stubbed: dict[str, Stubber], operation: str) -> None:
    arn = _arn(EU, 1)
    if operation != "list_certificates":
        stubbed[EU].add_response("list_certificates", _listed(arn), LIST_REQUEST)
    if operation == "list_tags_for_certificate":
        stubbed[EU].add_response("describe_certificate", _described(arn), {"CertificateArn": arn})
    stubbed[EU].add_client_error(operation, "ThrottlingException", "Rate exceeded")

    with pytest.raises(ThrottledError):
        _source(stubbed).scan()


def test_acm_tags_that_cannot_be_read_leave_the_certificate_without_owner(
    stubbed: dict[str, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    """A role that may describe but not list tags (a policy older than the code) still scans."""
    arn = _arn(EU, 1)
    stubbed[EU].add_response("list_certificates", _listed(arn), LIST_REQUEST)
    stubbed[EU].add_response("describe_certificate", _described(arn), {"CertificateArn": arn})
    stubbed[EU].add_client_error("list_tags_for_certificate", "AccessDeniedException", "no tags for you")
    source = _source(stubbed, EU)

    with caplog.at_level(logging.WARNING, logger="chalicelib.adapters.certificates"):
        scanned = source.scan()

    (cert,) = scanned.certificates
    assert (cert.arn, cert.owner, cert.runbook_url, cert.notes) == (arn, None, None, None)
    assert scanned.failures == ()
    assert any(arn in r.getMessage() and "AccessDeniedException" in r.getMessage() for r in caplog.records)


def test_acm_tags_give_owner_runbook_and_notes_and_a_runbook_that_is_no_url_is_left_out(
    stubbed: dict[str, Stubber],
) -> None:
    usable, unusable = _arn(EU, 1), _arn(EU, 2)
    stubbed[EU].add_response("list_certificates", _listed(usable, unusable), LIST_REQUEST)
    _readable(stubbed[EU], usable, _tags(OWNER="payments", Runbook="https://wiki.example/pay", notes="ask #pay"))
    _readable(stubbed[EU], unusable, _tags(owner="  ", certwatch__runbook="javascript:alert(1)", runbook="wiki/tls"))

    found = {cert.arn: cert for cert in _source(stubbed, EU).scan().certificates}

    assert (found[usable].owner, found[usable].runbook_url, found[usable].notes) == (
        "payments",
        "https://wiki.example/pay",
        "ask #pay",
    )
    assert (found[unusable].owner, found[unusable].runbook_url) == (None, None)


def test_acm_describe_translates_errors(stubbed: dict[str, Stubber]) -> None:
    arn = _arn(EU, 1)
    stubbed[EU].add_client_error("describe_certificate", "AccessDeniedException", "no")
    stubbed[EU].add_client_error("describe_certificate", "ThrottlingException", "Rate exceeded")
    source = _source(stubbed)

    with pytest.raises(SourceError, match="AccessDeniedException"):
        source.describe(arn)
    with pytest.raises(ThrottledError):
        source.describe(arn)


# --- IAM ---------------------------------------------------------------------------------------------


@pytest.fixture
def iam() -> Iterator[IAMClient]:
    with mock_aws():
        yield boto3.client("iam")


def test_iam_reads_dates_and_names_from_the_certificate_body(iam: IAMClient, pki: Pki) -> None:
    now = datetime.now(UTC)
    minted = {
        "web-rsa": make_cert(
            "legacy.example",
            sans=["legacy.example", "old.example"],
            issuer=pki.intermediate,
            key="rsa2048",
            not_before=now - timedelta(days=200),
            not_after=now + timedelta(days=20),
        ),
        "web-ec": make_cert(
            "edge.example",
            issuer=pki.intermediate,
            key="ec384",
            not_before=now - timedelta(days=5),
            not_after=now + timedelta(days=365),
        ),
    }
    for name, issued in minted.items():
        iam.upload_server_certificate(
            ServerCertificateName=name,
            CertificateBody=issued.pem.decode(),
            PrivateKey=issued.key_pem.decode(),
            CertificateChain=pki.intermediate.pem.decode(),
        )
    fake_dates = {m["Expiration"] for m in iam.list_server_certificates()["ServerCertificateMetadataList"]}

    found = {cert.name: cert for cert in IamSource(iam).scan().certificates}

    assert set(found) == set(minted)
    for name, issued in minted.items():
        cert = found[name]
        assert cert.arn == f"arn:aws:iam::{ACCOUNT}:server-certificate/{name}"
        assert (cert.source, cert.region, cert.type, cert.status) == (Source.IAM, None, "IAM", "ISSUED")
        assert cert.not_before == issued.cert.not_valid_before_utc
        assert cert.not_after == issued.cert.not_valid_after_utc
        assert cert.not_after not in fake_dates
        assert cert.issuer == "CN=certwatch Test Intermediate"
        assert cert.serial == format(issued.cert.serial_number, "x")
        assert cert.fingerprint_sha256 == issued.fingerprint
    assert found["web-rsa"].not_after == seconds(now + timedelta(days=20))
    assert (found["web-rsa"].domain, found["web-rsa"].sans) == ("legacy.example", ("legacy.example", "old.example"))
    assert (found["web-rsa"].key_algorithm, found["web-ec"].key_algorithm) == ("RSA_2048", "EC_secp384r1")
    assert found["web-ec"].sans == ("edge.example",)


def _metadata(name: str) -> dict[str, Any]:
    return {
        "Path": "/",
        "ServerCertificateName": name,
        "ServerCertificateId": f"ASCA{name.upper():0<16}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:server-certificate/{name}",
    }


def _server_certificate(name: str, body: str) -> dict[str, Any]:
    return {"ServerCertificate": {"ServerCertificateMetadata": _metadata(name), "CertificateBody": body}}


def _without_common_name(dns_name: str) -> x509.Certificate:
    """A certificate whose subject is empty (CAs may leave the CN out): its name is in the SAN only."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no-cn issuer")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_iam_follows_the_marker_and_survives_a_body_it_cannot_parse(caplog: pytest.LogCaptureFixture) -> None:
    no_cn = _without_common_name("san-only.example")
    client = boto3.client("iam")
    with Stubber(client) as stub:
        stub.add_response(
            "list_server_certificates",
            {
                "ServerCertificateMetadataList": [_metadata("good"), _metadata("gone")],
                "IsTruncated": True,
                "Marker": "m1",
            },
            {},
        )
        stub.add_response(
            "get_server_certificate",
            _server_certificate("good", no_cn.public_bytes(serialization.Encoding.PEM).decode()),
            {"ServerCertificateName": "good"},
        )
        stub.add_client_error(
            "get_server_certificate", "NoSuchEntity", expected_params={"ServerCertificateName": "gone"}
        )
        stub.add_response(
            "list_server_certificates",
            {"ServerCertificateMetadataList": [_metadata("broken")], "IsTruncated": False},
            {"Marker": "m1"},
        )
        garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        stub.add_response(
            "get_server_certificate", _server_certificate("broken", garbage), {"ServerCertificateName": "broken"}
        )

        with caplog.at_level(logging.WARNING, logger="chalicelib.adapters.certificates"):
            found = {cert.name: cert for cert in IamSource(client).scan().certificates}
        stub.assert_no_pending_responses()

    assert set(found) == {"good", "broken"}
    good = found["good"]
    assert (good.domain, good.sans, good.key_algorithm) == ("san-only.example", ("san-only.example",), "EC_prime256v1")
    assert good.not_after == no_cn.not_valid_after_utc
    broken = found["broken"]
    assert (broken.not_before, broken.not_after, broken.fingerprint_sha256) == (None, None, None)
    assert broken.arn == f"arn:aws:iam::{ACCOUNT}:server-certificate/broken"
    assert any("broken" in record.getMessage() for record in caplog.records)


def test_iam_reads_owner_and_runbook_from_the_tags_get_server_certificate_answers_with(pki: Pki) -> None:
    readable = make_cert("tagged.example", issuer=pki.intermediate)
    client = boto3.client("iam")
    answer = _server_certificate("tagged", readable.pem.decode())
    answer["ServerCertificate"]["Tags"] = [
        {"Key": "certwatch:owner", "Value": "edge-team"},
        {"Key": "certwatch:runbook", "Value": "https://wiki.example/edge"},
    ]
    with Stubber(client) as stub:
        stub.add_response("list_server_certificates", {"ServerCertificateMetadataList": [_metadata("tagged")]}, {})
        stub.add_response("get_server_certificate", answer, {"ServerCertificateName": "tagged"})
        (cert,) = IamSource(client).scan().certificates
        stub.assert_no_pending_responses()

    assert (cert.name, cert.owner, cert.runbook_url, cert.notes) == (
        "tagged",
        "edge-team",
        "https://wiki.example/edge",
        None,
    )


def test_iam_throttling_raises_throttled_error() -> None:
    client = boto3.client("iam")
    with Stubber(client) as stub:
        stub.add_client_error("list_server_certificates", "Throttling", "Rate exceeded")
        with pytest.raises(ThrottledError):
            IamSource(client).scan()


def test_iam_failures_are_recorded_and_the_rest_is_read(pki: Pki) -> None:
    readable = make_cert("still.example", issuer=pki.intermediate)
    client = boto3.client("iam")
    with Stubber(client) as stub:
        stub.add_response(
            "list_server_certificates",
            {"ServerCertificateMetadataList": [_metadata("locked"), _metadata("open")], "IsTruncated": False},
            {},
        )
        stub.add_client_error("get_server_certificate", "AccessDenied", "not this one")
        stub.add_response("get_server_certificate", _server_certificate("open", readable.pem.decode()))
        stub.add_client_error("list_server_certificates", "AccessDenied", "no listing either")
        source = IamSource(client)

        scanned = source.scan()
        assert [cert.name for cert in scanned.certificates] == ["open"]
        assert len(scanned.failures) == 1
        assert scanned.failures[0][0] == "iam"
        assert "locked" in scanned.failures[0][1]

        again = source.scan()
        assert list(again.certificates) == []
        assert [(where, "no listing either" in message) for where, message in again.failures] == [("iam", True)]
        stub.assert_no_pending_responses()
