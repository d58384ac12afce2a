"""Endpoint discovery against moto (ELBv2, ACM, CloudFront, API Gateway v1/v2), and botocore's Stubber
where moto cannot show a behaviour (pages of load balancers and domain names, throttling, odd answers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.adapters.discovery import Discoverer
from chalicelib.domain.inventory import DiscoveredEndpoint
from chalicelib.errors import ThrottledError
from lab.certs import make_cert

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import DistributionConfigTypeDef, ListDistributionsResultTypeDef
    from mypy_boto3_elbv2.type_defs import ActionTypeDef

REGION = "eu-west-1"
ACCOUNT = "123456789012"

Row = tuple[str, str, str | None, str | None]


def _rows(found: Sequence[DiscoveredEndpoint]) -> list[Row]:
    return [(str(d.endpoint), d.source, d.certificate_arn, d.region) for d in found]


def _discoverer(regions: tuple[str, ...] = (REGION,), **overrides: Any) -> Discoverer:
    """A Discoverer on boto3 clients (moto's, under mock_aws); ``overrides`` replaces some of them."""
    arguments: dict[str, Any] = {
        "elbv2_for": lambda region: boto3.client("elbv2", region_name=region),
        "acm_for": lambda region: boto3.client("acm", region_name=region),
        "apigateway_for": lambda region: boto3.client("apigateway", region_name=region),
        "apigatewayv2_for": lambda region: boto3.client("apigatewayv2", region_name=region),
        "cloudfront": boto3.client("cloudfront", region_name="us-east-1"),
        "regions": regions,
    }
    return Discoverer(**(arguments | overrides))


# --- the account on moto ----------------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _import(names: list[str], region: str = REGION) -> str:
    issued = make_cert(names[0], sans=names)
    answer = boto3.client("acm", region_name=region).import_certificate(
        Certificate=issued.pem, PrivateKey=issued.key_pem
    )
    return str(answer["CertificateArn"])


@dataclass(frozen=True)
class Account:
    """What the moto account holds, and the ARNs and ids discovery should report."""

    vpc: str
    subnets: list[str]
    shop_cert: str
    api_cert: str
    mqtt_cert: str
    cdn_cert: str
    https_listener: str
    tls_listener: str
    distribution: str

    def https_listener_on_new_balancer(
        self, name: str, certificate: str, scheme: Literal["internal", "internet-facing"] = "internet-facing"
    ) -> str:
        elbv2 = boto3.client("elbv2", region_name=REGION)
        balancer = elbv2.create_load_balancer(Name=name, Subnets=self.subnets, Type="application", Scheme=scheme)
        group = elbv2.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=80, VpcId=self.vpc)
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroups"][0]["TargetGroupArn"]}],
        )
        return str(listener["Listeners"][0]["ListenerArn"])


@pytest.fixture
def account(aws: None) -> Account:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab", start=1)
    ]
    shop = _import(["shop.example.com", "www.example.com", "*.example.com"])
    api = _import(["api.example.com"])
    mqtt = _import(["mqtt.example.com"])
    cdn = _import(["cdn.example.com"], region="us-east-1")

    elbv2 = boto3.client("elbv2", region_name=REGION)
    alb = elbv2.create_load_balancer(Name="shop", Subnets=subnets, Type="application")
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    web = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    forward_web: list[ActionTypeDef] = [{"Type": "forward", "TargetGroupArn": web["TargetGroupArn"]}]
    https = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": shop}],
        DefaultActions=forward_web,
    )["Listeners"][0]["ListenerArn"]
    elbv2.add_listener_certificates(ListenerArn=https, Certificates=[{"CertificateArn": api}])
    elbv2.create_listener(LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=forward_web)

    nlb = elbv2.create_load_balancer(Name="mqtt", Subnets=subnets, Type="network")
    broker = elbv2.create_target_group(Name="broker", Protocol="TCP", Port=8883, VpcId=vpc)["TargetGroups"][0]
    tls = elbv2.create_listener(
        LoadBalancerArn=nlb["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="TLS",
        Port=8443,
        Certificates=[{"CertificateArn": mqtt}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": broker["TargetGroupArn"]}],
    )["Listeners"][0]["ListenerArn"]

    distribution = _create_distribution("cdn", ["cdn.example.com", "*.static.example.com"], cdn)

    boto3.client("apigateway", region_name=REGION).create_domain_name(
        domainName="rest.example.com", regionalCertificateArn=api, endpointConfiguration={"types": ["REGIONAL"]}
    )
    boto3.client("apigatewayv2", region_name=REGION).create_domain_name(
        DomainName="ws.example.com",
        DomainNameConfigurations=[{"CertificateArn": api, "EndpointType": "REGIONAL"}],
    )
    return Account(vpc, subnets, shop, api, mqtt, cdn, https, tls, distribution)


def _create_distribution(reference: str, aliases: list[str], certificate: str) -> str:
    config: DistributionConfigTypeDef = {
        "CallerReference": reference,
        "Aliases": {"Quantity": len(aliases), "Items": aliases},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": "origin.example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0,
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
        "Comment": reference,
        "Enabled": True,
        "ViewerCertificate": {"ACMCertificateArn": certificate, "SSLSupportMethod": "sni-only"},
    }
    answer = boto3.client("cloudfront", region_name="us-east-1").create_distribution(DistributionConfig=config)
    return str(answer["Distribution"]["Id"])


def _expected(account: Account) -> list[Row]:
    https, tls = f"elbv2:{account.https_listener}", f"elbv2:{account.tls_listener}"
    return [
        ("https://api.example.com:443", https, account.api_cert, REGION),
        ("https://cdn.example.com:443", f"cloudfront:{account.distribution}", account.cdn_cert, None),
        ("tls://mqtt.example.com:8443", tls, account.mqtt_cert, REGION),
        ("https://rest.example.com:443", "apigateway:rest.example.com", account.api_cert, REGION),
        ("https://shop.example.com:443", https, account.shop_cert, REGION),
        ("https://ws.example.com:443", "apigatewayv2:ws.example.com", account.api_cert, REGION),
        ("https://www.example.com:443", https, account.shop_cert, REGION),
    ]


def test_discovers_every_public_endpoint_of_the_account(account: Account) -> None:
    discoverer = _discoverer()

    discovered = discoverer.discover()
    found = discovered.endpoints

    # No wildcard (*.example.com, *.static.example.com), nothing from the HTTP listener on 80.
    assert _rows(found) == _expected(account)
    assert discovered.failures == ()


def test_a_name_on_two_listeners_with_the_same_port_is_proposed_once(account: Account) -> None:
    second = account.https_listener_on_new_balancer("shop-too", account.shop_cert)

    found = _discoverer().discover().endpoints

    shop = [d for d in found if d.endpoint.host == "shop.example.com"]
    assert len(shop) == 1
    assert shop[0].source in {f"elbv2:{account.https_listener}", f"elbv2:{second}"}
    assert len(found) == len(_expected(account))


def test_internal_load_balancers_are_not_proposed(account: Account) -> None:
    intranet = _import(["intranet.example.com"])
    account.https_listener_on_new_balancer("intranet", intranet, scheme="internal")

    found = _discoverer().discover().endpoints

    assert _rows(found) == _expected(account)


class _Unavailable:
    """An API Gateway v2 client in a region that has no such endpoint."""

    def get_domain_names(self, **request: Any) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="https://apigateway.us-east-2.amazonaws.com/v2/domainnames")


def test_a_denied_or_unavailable_service_is_recorded_and_the_rest_still_comes_back(account: Account) -> None:
    denied = boto3.client("elbv2", region_name="us-east-2")
    stubber = Stubber(denied)
    stubber.add_client_error("describe_load_balancers", "AccessDenied", "not authorized", http_status_code=403)
    stubber.activate()

    def elbv2_for(region: str) -> Any:
        return denied if region == "us-east-2" else boto3.client("elbv2", region_name=region)

    def apigatewayv2_for(region: str) -> Any:
        return _Unavailable() if region == "us-east-2" else boto3.client("apigatewayv2", region_name=region)

    discoverer = _discoverer((REGION, "us-east-2"), elbv2_for=elbv2_for, apigatewayv2_for=apigatewayv2_for)

    discovered = discoverer.discover()
    found = discovered.endpoints

    assert _rows(found) == _expected(account)
    assert [(service, region) for service, region, _ in discovered.failures] == [
        ("elbv2", "us-east-2"),
        ("apigatewayv2", "us-east-2"),
    ]
    assert "AccessDenied" in discovered.failures[0][2]
    assert "apigateway.us-east-2" in discovered.failures[1][2]
    stubber.assert_no_pending_responses()


class _SmallPages:
    """moto's CloudFront client, asked for one distribution per page (moto pages by MaxItems)."""

    def __init__(self, client: CloudFrontClient) -> None:
        self._client = client
        self.markers: list[str | None] = []

    def list_distributions(self, **request: Any) -> ListDistributionsResultTypeDef:
        self.markers.append(request.get("Marker"))
        return self._client.list_distributions(MaxItems="1", **request)


def test_cloudfront_distributions_are_read_page_by_page(aws: None) -> None:
    certificate = _import(["a.example.com", "b.example.com"], region="us-east-1")
    first = _create_distribution("first", ["a.example.com"], certificate)
    second = _create_distribution("second", ["B.Example.com.", "*.b.example.com"], certificate)
    cloudfront = _SmallPages(boto3.client("cloudfront", region_name="us-east-1"))

    found = _discoverer((), cloudfront=cloudfront).discover().endpoints

    assert _rows(found) == [
        ("https://a.example.com:443", f"cloudfront:{first}", certificate, None),
        ("https://b.example.com:443", f"cloudfront:{second}", certificate, None),
    ]
    assert len(cloudfront.markers) == 2
    assert cloudfront.markers[0] is None


# --- what moto cannot show: Stubber on real clients -----------------------------------------------------


def _acm_arn(name: str) -> str:
    return f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{name}"


def _balancer_arn(kind: str, name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/{kind}/{name}/50dc6c495c0c9188"


def _listener_arn(kind: str, name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/{kind}/{name}/50dc6c495c0c9188/f2f7dc8efc522ab2"


class _Empty:
    """Any of the four listings, with nothing in it: for the services a test is not about."""

    def describe_load_balancers(self, **request: Any) -> dict[str, Any]:
        return {"LoadBalancers": []}

    def get_domain_names(self, **request: Any) -> dict[str, Any]:
        return {"items": [], "Items": []}

    def list_distributions(self, **request: Any) -> dict[str, Any]:
        return {"DistributionList": {"IsTruncated": False, "Quantity": 0}}


def _one_region(**given: Any) -> Discoverer:
    """A Discoverer for one region; each client not ``given`` lists nothing."""

    def constant(client: Any) -> Any:
        return lambda region: client

    return Discoverer(
        elbv2_for=constant(given.get("elbv2", _Empty())),
        acm_for=constant(given.get("acm", _Empty())),
        apigateway_for=constant(given.get("apigateway", _Empty())),
        apigatewayv2_for=constant(given.get("apigatewayv2", _Empty())),
        cloudfront=given.get("cloudfront", _Empty()),
        regions=(REGION,),
    )


class Stubs:
    """Real boto3 clients with botocore Stubbers; every queued answer must have been used by the end."""

    def __init__(self) -> None:
        self._stubbers: list[Stubber] = []

    def stubbed[C: BaseClient](self, client: C) -> tuple[C, Stubber]:
        stubber = Stubber(client)
        stubber.activate()
        self._stubbers.append(stubber)
        return client, stubber

    def verify(self) -> None:
        for stubber in self._stubbers:
            stubber.assert_no_pending_responses()
            stubber.deactivate()


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    made = Stubs()
    yield made
    made.verify()


def _listener(kind: str, name: str, protocol: str, port: int, certificates: list[str]) -> dict[str, Any]:
    return {
        "ListenerArn": _listener_arn(kind, name),
        "LoadBalancerArn": _balancer_arn(kind, name),
        "Protocol": protocol,
        "Port": port,
        "Certificates": [{"CertificateArn": arn} for arn in certificates],
    }


def _certificate(arn: str, names: list[str]) -> dict[str, Any]:
    return {"Certificate": {"CertificateArn": arn, "DomainName": names[0], "SubjectAlternativeNames": names}}


def test_load_balancers_are_read_page_by_page(stubs: Stubs) -> None:
    elbv2, balancers = stubs.stubbed(boto3.client("elbv2", region_name=REGION))
    acm, certificates = stubs.stubbed(boto3.client("acm", region_name=REGION))
    pages = [("app", "one", "HTTPS", 443, "NEXT"), ("net", "two", "TLS", 8443, None)]
    for kind, name, protocol, port, next_marker in pages:
        page: dict[str, Any] = {"LoadBalancers": [{"LoadBalancerArn": _balancer_arn(kind, name)}]}
        if next_marker:
            page["NextMarker"] = next_marker
        balancers.add_response("describe_load_balancers", page, {} if kind == "app" else {"Marker": "NEXT"})
        listener = _listener(kind, name, protocol, port, [_acm_arn(name)])
        balancers.add_response(
            "describe_listeners", {"Listeners": [listener]}, {"LoadBalancerArn": _balancer_arn(kind, name)}
        )
        balancers.add_response(
            "describe_listener_certificates",
            {"Certificates": [{"CertificateArn": _acm_arn(name), "IsDefault": True}]},
            {"ListenerArn": _listener_arn(kind, name)},
        )
        certificates.add_response(
            "describe_certificate",
            _certificate(_acm_arn(name), [f"{name}.example.com"]),
            {"CertificateArn": _acm_arn(name)},
        )

    discoverer = _one_region(elbv2=elbv2, acm=acm)

    discovered = discoverer.discover()
    assert _rows(discovered.endpoints) == [
        ("https://one.example.com:443", f"elbv2:{_listener_arn('app', 'one')}", _acm_arn("one"), REGION),
        ("tls://two.example.com:8443", f"elbv2:{_listener_arn('net', 'two')}", _acm_arn("two"), REGION),
    ]
    assert discovered.failures == ()


def test_certificates_acm_cannot_describe_are_skipped(stubs: Stubs) -> None:
    iam = f"arn:aws:iam::{ACCOUNT}:server-certificate/legacy"
    gone, denied, kept = _acm_arn("gone"), _acm_arn("denied"), _acm_arn("kept")
    elbv2, balancers = stubs.stubbed(boto3.client("elbv2", region_name=REGION))
    acm, certificates = stubs.stubbed(boto3.client("acm", region_name=REGION))
    balancers.add_response(
        "describe_load_balancers", {"LoadBalancers": [{"LoadBalancerArn": _balancer_arn("app", "a")}]}
    )
    listener = _listener("app", "a", "HTTPS", 443, [iam])
    balancers.add_response("describe_listeners", {"Listeners": [listener]})
    extra = [{"CertificateArn": arn, "IsDefault": False} for arn in (gone, denied, kept)]
    balancers.add_response("describe_listener_certificates", {"Certificates": extra})
    certificates.add_client_error(
        "describe_certificate", "ResourceNotFoundException", expected_params={"CertificateArn": gone}
    )
    certificates.add_client_error(
        "describe_certificate",
        "AccessDeniedException",
        "no acm:DescribeCertificate",
        expected_params={"CertificateArn": denied},
    )
    certificates.add_response("describe_certificate", _certificate(kept, ["kept.example.com", "*.kept.example.com"]))

    discoverer = _one_region(elbv2=elbv2, acm=acm)

    discovered = discoverer.discover()
    assert _rows(discovered.endpoints) == [
        ("https://kept.example.com:443", f"elbv2:{_listener_arn('app', 'a')}", kept, REGION)
    ]
    assert [(service, region) for service, region, _ in discovered.failures] == [("acm", REGION)]
    assert "AccessDeniedException" in discovered.failures[0][2]


def test_a_denied_cloudfront_is_recorded_as_global_and_the_regions_still_come_back(stubs: Stubs) -> None:
    cloudfront, distributions = stubs.stubbed(boto3.client("cloudfront", region_name="us-east-1"))
    distributions.add_client_error("list_distributions", "AccessDenied", "no cloudfront:ListDistributions", 403)
    rest, domains = stubs.stubbed(boto3.client("apigateway", region_name=REGION))
    domains.add_response("get_domain_names", {"items": [{"domainName": "rest.example.com"}]})

    discoverer = _one_region(cloudfront=cloudfront, apigateway=rest)

    discovered = discoverer.discover()
    assert _rows(discovered.endpoints) == [
        ("https://rest.example.com:443", "apigateway:rest.example.com", None, REGION)
    ]
    assert [(service, region) for service, region, _ in discovered.failures] == [("cloudfront", "global")]


def test_domain_names_are_read_page_by_page_and_normalised(stubs: Stubs) -> None:
    rest, rest_stub = stubs.stubbed(boto3.client("apigateway", region_name=REGION))
    v2, v2_stub = stubs.stubbed(boto3.client("apigatewayv2", region_name=REGION))
    regional, edge = _acm_arn("regional"), f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/edge"
    rest_stub.add_response(
        "get_domain_names",
        {"items": [{"domainName": "Rest.Example.COM.", "regionalCertificateArn": regional}], "position": "P2"},
        {},
    )
    rest_stub.add_response(
        "get_domain_names",
        {
            "items": [
                {
                    "domainName": "edge.example.com",
                    "certificateArn": edge,
                    "endpointConfiguration": {"types": ["EDGE"]},
                },
                {"domainName": "inside.example.com", "endpointConfiguration": {"types": ["PRIVATE"]}},
            ]
        },
        {"position": "P2"},
    )
    config = [{"CertificateArn": regional, "EndpointType": "REGIONAL"}]
    v2_stub.add_response(
        "get_domain_names",
        {"Items": [{"DomainName": "bücher.example.com", "DomainNameConfigurations": config}], "NextToken": "T2"},
        {},
    )
    v2_stub.add_response(
        "get_domain_names",
        {
            "Items": [
                {"DomainName": "*.ws.example.com", "DomainNameConfigurations": config},
                {"DomainName": "not_a name!.example.com"},
                {"DomainName": "rest.example.com", "DomainNameConfigurations": config},  # v2 lists v1's too
            ]
        },
        {"NextToken": "T2"},
    )

    discoverer = _one_region(apigateway=rest, apigatewayv2=v2)

    discovered = discoverer.discover()
    assert _rows(discovered.endpoints) == [
        ("https://edge.example.com:443", "apigateway:edge.example.com", edge, REGION),
        ("https://rest.example.com:443", "apigateway:Rest.Example.COM.", regional, REGION),
        ("https://xn--bcher-kva.example.com:443", "apigatewayv2:bücher.example.com", regional, REGION),
    ]
    assert discovered.failures == ()


@pytest.mark.parametrize(
    ("service", "operation", "code"),
    [
        ("elbv2", "describe_load_balancers", "Throttling"),
        ("apigateway", "get_domain_names", "TooManyRequestsException"),
        ("cloudfront", "list_distributions", "Throttling"),
    ],
)
def test_throttling_raises_throttled_error(
    stubs: Stubs, service: Literal["elbv2", "apigateway", "cloudfront"], operation: str, code: str
) -> None:
    region = "us-east-1" if service == "cloudfront" else REGION
    client, stubber = stubs.stubbed(boto3.client(service, region_name=region))
    stubber.add_client_error(operation, code, "slow down", http_status_code=429)

    with pytest.raises(ThrottledError, match=service):
        _one_region(**{service: client}).discover()


def test_a_throttled_acm_raises_throttled_error(stubs: Stubs) -> None:
    elbv2, balancers = stubs.stubbed(boto3.client("elbv2", region_name=REGION))
    acm, certificates = stubs.stubbed(boto3.client("acm", region_name=REGION))
    balancers.add_response(
        "describe_load_balancers", {"LoadBalancers": [{"LoadBalancerArn": _balancer_arn("app", "a")}]}
    )
    balancers.add_response("describe_listeners", {"Listeners": [_listener("app", "a", "HTTPS", 443, [_acm_arn("a")])]})
    balancers.add_response("describe_listener_certificates", {"Certificates": []})
    certificates.add_client_error("describe_certificate", "ThrottlingException", "slow down", 400)

    with pytest.raises(ThrottledError, match="acm"):
        _one_region(elbv2=elbv2, acm=acm).discover()
