"""Finding the public TLS endpoints an AWS account serves: ELBv2 listeners, CloudFront, API Gateway.

Each endpoint found this way can be registered as a target and checked from the outside. Only
names a client can actually connect to are proposed: wildcards are not, nor are internal load
balancers and private API Gateway domain names, which nothing outside the VPC can reach.

One failing service or region (no permission, not offered there) never loses the others: it is
a failure of the discovery's answer, beside what was found, and discovery goes on. Throttling is the exception: it
raises ThrottledError, because the caller should simply retry later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import error_code, is_throttling, pages, parse_arn
from chalicelib.domain.endpoints import normalize_hostname
from chalicelib.domain.inventory import Discovered, DiscoveredEndpoint
from chalicelib.domain.models import Endpoint, Protocol
from chalicelib.errors import InvalidTargetError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import DistributionListTypeDef
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_elbv2.type_defs import ListenerTypeDef


GLOBAL = "global"  # the region of a failure of CloudFront, which has none

_LISTENER_PROTOCOLS = {"HTTPS": Protocol.HTTPS, "TLS": Protocol.TLS}
# ACM cannot describe these certificates (gone, or no ACM ARN at all): nothing to propose, nothing wrong.
_UNKNOWN_CERTIFICATE = {"ResourceNotFoundException", "InvalidArnException", "ValidationException"}
# A load balancer or listener deleted while we walk the list.
_VANISHED = {"LoadBalancerNotFound", "ListenerNotFound"}


@dataclass
class _Run:
    """What one ``discover()`` keeps while it walks: what it could not read, the ACM clients and names it asked."""

    failures: list[tuple[str, str, str]] = field(default_factory=list)
    acm_clients: dict[str, ACMClient] = field(default_factory=dict)
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def fail(self, service: str, region: str, exc: Exception) -> None:
        self.failures.append((service, region, str(exc)))


class Discoverer:
    """Walks ELBv2, CloudFront and API Gateway (v1 and v2) in the given regions for public TLS endpoints.

    The ``*_for`` callables return a boto3 client for a region; ``cloudfront`` is the one global
    client. A failure is ``(service, region, message)``: service elbv2, acm, apigateway,
    apigatewayv2 or cloudfront; region ``global`` for CloudFront.
    """

    def __init__(
        self,
        *,
        elbv2_for: Callable[[str], ElasticLoadBalancingv2Client],
        acm_for: Callable[[str], ACMClient],
        apigateway_for: Callable[[str], APIGatewayClient],
        apigatewayv2_for: Callable[[str], ApiGatewayV2Client],
        cloudfront: CloudFrontClient,
        regions: Sequence[str],
    ) -> None:
        self._elbv2_for = elbv2_for
        self._acm_for = acm_for
        self._apigateway_for = apigateway_for
        self._apigatewayv2_for = apigatewayv2_for
        self._cloudfront = cloudfront
        self._regions = tuple(regions)

    def discover(self) -> Discovered:
        """Every public endpoint found, once per (host, port, protocol), sorted by host then port, and
        what could not be read. Raises ThrottledError when a service throttles."""
        run = _Run()
        found: list[DiscoveredEndpoint] = []
        for region in self._regions:
            found += _collect(run, "elbv2", region, self._load_balancers(run, region))
            found += _collect(run, "apigateway", region, self._rest_domains(region))
            found += _collect(run, "apigatewayv2", region, self._v2_domains(region))
        found += _collect(run, "cloudfront", GLOBAL, self._distributions())
        return Discovered(tuple(_deduplicated(found)), tuple(run.failures))

    # --- ELBv2 --------------------------------------------------------------------------------

    def _load_balancers(self, run: _Run, region: str) -> Iterator[DiscoveredEndpoint]:
        client = self._elbv2_for(region)
        for page in pages(client.describe_load_balancers, "Marker", "NextMarker"):
            for balancer in page.get("LoadBalancers", []):
                if balancer.get("Scheme") == "internal":
                    continue
                try:
                    yield from self._listeners(run, client, region, balancer["LoadBalancerArn"])
                except ClientError as exc:
                    if error_code(exc) not in _VANISHED:
                        raise

    def _listeners(
        self, run: _Run, client: ElasticLoadBalancingv2Client, region: str, balancer_arn: str
    ) -> Iterator[DiscoveredEndpoint]:
        for page in pages(client.describe_listeners, "Marker", "NextMarker", LoadBalancerArn=balancer_arn):
            for listener in page.get("Listeners", []):
                protocol = _LISTENER_PROTOCOLS.get(listener.get("Protocol", ""))
                if protocol is None:
                    continue
                arn = listener["ListenerArn"]
                for certificate_arn in self._listener_certificates(client, listener):
                    for name in self._certificate_names(run, certificate_arn, region):
                        host = _hostname(name)
                        if host is not None:
                            yield DiscoveredEndpoint(
                                Endpoint(host=host, port=int(listener["Port"]), protocol=protocol),
                                f"elbv2:{arn}",
                                certificate_arn,
                                region,
                            )

    def _listener_certificates(self, client: ElasticLoadBalancingv2Client, listener: ListenerTypeDef) -> list[str]:
        """The listener's default certificate first, then the extra (SNI) ones, each once."""
        arns = [c["CertificateArn"] for c in listener.get("Certificates", []) if c.get("CertificateArn")]
        listing = pages(
            client.describe_listener_certificates, "Marker", "NextMarker", ListenerArn=listener["ListenerArn"]
        )
        for page in listing:
            arns += [c["CertificateArn"] for c in page.get("Certificates", []) if c.get("CertificateArn")]
        return list(dict.fromkeys(arns))

    def _certificate_names(self, run: _Run, arn: str, region: str) -> tuple[str, ...]:
        """The DomainName and SANs of an ACM certificate; none for IAM server certificates and unknown ARNs."""
        if arn not in run.names:
            parsed = parse_arn(arn)
            if parsed is None or parsed.service != "acm":
                run.names[arn] = ()
            else:
                run.names[arn] = self._describe(run, arn, parsed.region or region)
        return run.names[arn]

    def _describe(self, run: _Run, arn: str, region: str) -> tuple[str, ...]:
        try:
            if region not in run.acm_clients:
                run.acm_clients[region] = self._acm_for(region)
            answer = run.acm_clients[region].describe_certificate(CertificateArn=arn)
        except ClientError as exc:
            if is_throttling(exc):
                raise _throttled("acm", region) from exc
            if error_code(exc) not in _UNKNOWN_CERTIFICATE:  # no permission: say so, keep the listener's other names
                run.fail("acm", region, exc)
            return ()
        except BotoCoreError as exc:
            run.fail("acm", region, exc)
            return ()
        certificate = answer.get("Certificate", {})
        names = [certificate.get("DomainName", ""), *certificate.get("SubjectAlternativeNames", [])]
        return tuple(dict.fromkeys(name for name in names if name))

    # --- API Gateway ----------------------------------------------------------------------------

    def _rest_domains(self, region: str) -> Iterator[DiscoveredEndpoint]:
        client = self._apigateway_for(region)
        for page in pages(client.get_domain_names, "position", "position"):
            for domain in page.get("items", []):
                if "PRIVATE" in domain.get("endpointConfiguration", {}).get("types", []):
                    continue
                name = domain.get("domainName", "")
                certificate = domain.get("regionalCertificateArn") or domain.get("certificateArn")
                yield from _https(name, f"apigateway:{name}", certificate, region)

    def _v2_domains(self, region: str) -> Iterator[DiscoveredEndpoint]:
        client = self._apigatewayv2_for(region)
        for page in pages(client.get_domain_names, "NextToken", "NextToken"):
            for domain in page.get("Items", []):
                name = domain.get("DomainName", "")
                configurations = domain.get("DomainNameConfigurations", [])
                certificate = next((c["CertificateArn"] for c in configurations if c.get("CertificateArn")), None)
                yield from _https(name, f"apigatewayv2:{name}", certificate, region)

    # --- CloudFront -------------------------------------------------------------------------------

    def _distributions(self) -> Iterator[DiscoveredEndpoint]:
        for listing in pages(self._distribution_list, "Marker", "NextMarker"):
            for distribution in listing.get("Items", []):
                viewer = distribution.get("ViewerCertificate", {})
                certificate = viewer.get("ACMCertificateArn") or None
                source = f"cloudfront:{distribution['Id']}"
                for alias in distribution.get("Aliases", {}).get("Items", []):
                    yield from _https(alias, source, certificate, None)

    def _distribution_list(self, **request: Any) -> DistributionListTypeDef:
        """One page of distributions: CloudFront nests the page (and its marker) in DistributionList."""
        return self._cloudfront.list_distributions(**request).get("DistributionList", {})


def _collect(run: _Run, service: str, region: str, items: Iterable[DiscoveredEndpoint]) -> list[DiscoveredEndpoint]:
    """Everything ``items`` yields until it fails; a failure is recorded, not raised (but throttling is)."""
    collected: list[DiscoveredEndpoint] = []
    try:
        collected.extend(items)
    except ClientError as exc:
        if is_throttling(exc):
            raise _throttled(service, region) from exc
        run.fail(service, region, exc)
    except BotoCoreError as exc:  # no endpoint in that region, connection trouble
        run.fail(service, region, exc)
    return collected


def _https(name: str, source: str, certificate_arn: str | None, region: str | None) -> Iterator[DiscoveredEndpoint]:
    host = _hostname(name)
    if host is not None:
        yield DiscoveredEndpoint(
            Endpoint(host=host, port=443, protocol=Protocol.HTTPS), source, certificate_arn, region
        )


def _hostname(name: str) -> str | None:
    """The normalised host name, or None for a wildcard or something that is no host name."""
    if "*" in name:
        return None
    try:
        return normalize_hostname(name)
    except InvalidTargetError:
        return None


def _deduplicated(found: list[DiscoveredEndpoint]) -> list[DiscoveredEndpoint]:
    """One per (host, port, protocol): the smallest source wins, so listing order never matters."""
    chosen: dict[tuple[str, int, Protocol], DiscoveredEndpoint] = {}
    for item in sorted(found, key=lambda d: (*d.key, d.source, d.certificate_arn or "")):
        chosen.setdefault(item.key, item)
    return list(chosen.values())


def _throttled(service: str, region: str) -> ThrottledError:
    where = "" if region == GLOBAL else f" in {region}"
    return ThrottledError(f"{service} is throttling requests{where}; retry later")
