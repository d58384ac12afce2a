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
from typing import Any

from chalicelib.deps import Container
from lab.certs import Issued, PrivateKey, make_cert

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

    def __init__(self, boto3: Any) -> None:
        self._boto3 = boto3
        self._balancers: dict[str, tuple[str, str]] = {}  # region -> (balancer arn, target group arn)
        self._ports = itertools.count(8443)

    def acm(self, region: str) -> Any:
        return self._boto3.client("acm", region_name=region)

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
        listener = self._boto3.client("elbv2", region_name=held.region).create_listener(
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
        config = {
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
        answer = self._boto3.client("cloudfront", region_name=US).create_distribution(DistributionConfig=config)
        return str(answer["Distribution"]["Id"])

    def rest_domain(self, name: str, held: Held) -> None:
        """An API Gateway (REST) regional custom domain name served with the certificate."""
        self._boto3.client("apigateway", region_name=held.region).create_domain_name(
            domainName=name, regionalCertificateArn=held.arn, endpointConfiguration={"types": ["REGIONAL"]}
        )

    def _balancer(self, region: str) -> tuple[str, str]:
        if region not in self._balancers:
            ec2 = self._boto3.client("ec2", region_name=region)
            elbv2 = self._boto3.client("elbv2", region_name=region)
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
    """A boto3 ACM client whose describe_certificate says one certificate's renewal failed; the rest delegates."""

    def __init__(self, client: Any, arn: str, reason: str = "CAA_ERROR") -> None:
        self._client = client
        self._arn = arn
        self._reason = reason

    def describe_certificate(self, **request: Any) -> Any:
        answer = self._client.describe_certificate(**request)
        if request.get("CertificateArn") == self._arn:
            summary = {"RenewalStatus": "FAILED", "RenewalStatusReason": self._reason}
            answer = {**answer, "Certificate": {**answer["Certificate"], "RenewalSummary": summary}}
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def fail_renewal(container: Container, arn: str) -> None:
    """Make every ACM client of ``container`` report ``arn``'s renewal as failed.

    Installed the way ``Container(client=...)`` would install it, after construction because it
    wraps the container's own client factory.
    """
    built = container.client

    def client(service: str, region: str | None = None) -> Any:
        made = built(service, region)
        return FailedRenewal(made, arn) if service == "acm" else made

    container.__dict__["client"] = client
