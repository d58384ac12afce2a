"""Pieces of the inventory e2e tests: an AWS account on moto holding certificates, and ways to look into it.

The account imports certificates into ACM with chosen dates, puts some of them behind ELBv2
HTTPS listeners (the only thing that sets InUseBy on moto), a CloudFront distribution or an API
Gateway custom domain, and observes what SNS publishes on an SQS queue. An ACM client proxy says
a certificate's renewal failed, which moto never does.
"""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3.session

from lab.certs import Issued, PrivateKey, make_cert

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_acm.type_defs import DescribeCertificateResponseTypeDef
    from mypy_boto3_cloudfront.type_defs import DistributionConfigTypeDef

EU, US = "eu-west-1", "us-east-1"
REGIONS = (EU, US)
DAY = timedelta(days=1)
# Minted expiries sit mid-day, so a certificate's whole days left never flip during a test.
MIDDAY = timedelta(hours=12)


def unresolvable(host: str, *args: Any) -> list[Any]:
    """A getaddrinfo stand-in that knows no name: no test ever asks real DNS."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@dataclass(frozen=True)
class Held:
    """A certificate imported into ACM."""

    arn: str
    region: str
    domain: str
    issued: Issued
    not_after: datetime


class Account:
    """The moto account (inside mock_aws): ACM in two regions, one internet-facing ALB per region."""

    def __init__(self) -> None:
        self._balancers: dict[str, tuple[str, str]] = {}  # region -> (balancer arn, target group arn)
        self._ports = itertools.count(8443)

    def acm(self, region: str) -> ACMClient:
        return boto3.client("acm", region_name=region)

    def import_cert(
        self,
        region: str,
        domain: str,
        *,
        days: float,
        key: PrivateKey | str = "ec256",
        sans: list[str] | None = None,
        arn: str | None = None,
    ) -> Held:
        """Import a certificate valid until ``days`` (plus half a day) from now; ``arn`` re-imports under it."""
        now = datetime.now(UTC)
        not_after = (now + days * DAY + MIDDAY).replace(microsecond=0)
        issued = make_cert(domain, sans=sans, key=key, not_before=now - 30 * DAY, not_after=not_after)
        request: dict[str, Any] = {"Certificate": issued.pem, "PrivateKey": issued.key_pem}
        if arn is not None:
            request["CertificateArn"] = arn
        imported = str(self.acm(region).import_certificate(**request)["CertificateArn"])
        return Held(imported, region, domain, issued, not_after)

    def use(self, held: Held, *, port: int | None = None) -> str:
        """Put the certificate behind a new HTTPS listener (its default certificate, so InUseBy names it)."""
        balancer, group = self._balancer(held.region)
        listener = boto3.client("elbv2", region_name=held.region).create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTPS",
            Port=port or next(self._ports),
            Certificates=[{"CertificateArn": held.arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
        return str(listener["Listeners"][0]["ListenerArn"])

    def in_use_by(self, held: Held) -> list[str]:
        return list(self.acm(held.region).describe_certificate(CertificateArn=held.arn)["Certificate"]["InUseBy"])

    def balancer_arn(self, region: str) -> str:
        return self._balancer(region)[0]

    def distribution(self, alias: str, held: Held) -> str:
        """A CloudFront distribution serving ``alias`` with the certificate (which must be in us-east-1)."""
        config: DistributionConfigTypeDef = {
            "CallerReference": alias,
            "Aliases": {"Quantity": 1, "Items": [alias]},
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "origin",
                        "DomainName": "origin.inventory.test",
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
            "Comment": alias,
            "Enabled": True,
            "ViewerCertificate": {"ACMCertificateArn": held.arn, "SSLSupportMethod": "sni-only"},
        }
        answer = boto3.client("cloudfront", region_name=US).create_distribution(DistributionConfig=config)
        return str(answer["Distribution"]["Id"])

    def rest_domain(self, name: str, held: Held) -> None:
        """An API Gateway (REST) regional custom domain name served with the certificate."""
        boto3.client("apigateway", region_name=held.region).create_domain_name(
            domainName=name, regionalCertificateArn=held.arn, endpointConfiguration={"types": ["REGIONAL"]}
        )

    def _balancer(self, region: str) -> tuple[str, str]:
        if region not in self._balancers:
            ec2 = boto3.client("ec2", region_name=region)
            elbv2 = boto3.client("elbv2", region_name=region)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
                    "SubnetId"
                ]
                for n, zone in enumerate("ab", start=1)
            ]
            balancer = elbv2.create_load_balancer(Name="web", Subnets=subnets, Type="application")
            group = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)
            self._balancers[region] = (
                str(balancer["LoadBalancers"][0]["LoadBalancerArn"]),
                str(group["TargetGroups"][0]["TargetGroupArn"]),
            )
        return self._balancers[region]


class FailedRenewal:
    """A boto3 ACM client whose describe_certificate says the renewals in ``failing`` failed; the rest delegates."""

    def __init__(self, client: ACMClient, failing: dict[str, str]) -> None:
        self._client = client
        self._failing = failing  # ARN -> the renewal's failure reason

    def describe_certificate(self, **request: Any) -> DescribeCertificateResponseTypeDef:
        answer = self._client.describe_certificate(**request)
        reason = self._failing.get(request.get("CertificateArn", ""))
        if reason is not None:
            summary = {"RenewalStatus": "FAILED", "RenewalStatusReason": reason}
            answer = {**answer, "Certificate": {**answer["Certificate"], "RenewalSummary": summary}}  # type: ignore[typeddict-item]
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class FailingRenewals(boto3.session.Session):
    """A boto3 session whose ACM clients say what moto never does: a renewal failed (``fail``).

    The container's clients come from its session, so this one is given to the Container.
    """

    def __init__(self) -> None:
        super().__init__()
        self._failing: dict[str, str] = {}

    def fail(self, arn: str, reason: str = "CAA_ERROR") -> None:
        """From now on, describing ``arn`` says its renewal failed for ``reason``."""
        self._failing[arn] = reason

    def client(self, *args, **kwargs):  # untyped: it stands for every overload of Session.client
        made = super().client(*args, **kwargs)
        service = args[0] if args else kwargs.get("service_name")
        return FailedRenewal(made, self._failing) if service == "acm" else made
