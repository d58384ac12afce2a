"""The certificates the account holds: ACM (per region) and IAM server certificates, as ManagedCertificates.

Both adapters take their boto3 clients, own their pagination and turn ``ClientError`` into
certwatch's errors. A scan returns what it read and what it could not (a region with access
denied or not enabled, a certificate that cannot be described) together, the latter as
``(region or "iam", message)``: the rest is still read. Throttling raises ``ThrottledError``
so the caller retries the whole listing later.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from chalicelib.adapters.aws import error_code, error_message, is_throttling, pages, parse_arn
from chalicelib.domain.inventory import CertificateScan, ManagedCertificate, Source, tagged
from chalicelib.domain.x509info import subject_alt_names
from chalicelib.errors import InvalidValueError, NotFoundError, SourceError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_acm.type_defs import CertificateDetailTypeDef
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import ServerCertificateMetadataTypeDef

logger = logging.getLogger(__name__)

# ACM's listing returns RSA_1024 and RSA_2048 certificates only unless asked for every key type.
ACM_KEY_TYPES = (
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
)
_PAGE_SIZE = 100
_NOT_FOUND = {"ResourceNotFoundException", "NoSuchEntity"}
# cryptography's curve names -> ACM's (ACM says prime256v1, OpenSSL's name for secp256r1).
_ACM_CURVES = {"secp256r1": "prime256v1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}
# What cryptography raises for a malformed certificate, at load or lazily when a part is read.
_UNPARSEABLE = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType, x509.InvalidVersion)


class AcmSource:
    """Certificates held in ACM across regions; takes a factory of regional boto3 ACM clients."""

    def __init__(self, client_for: Callable[[str], ACMClient], regions: Sequence[str]) -> None:
        self._client_for = client_for
        self._regions = tuple(regions)

    @property
    def places(self) -> tuple[str, ...]:
        """Where a scan looks (the regions): what it does not see there is gone."""
        return self._regions

    def scan(self) -> CertificateScan:
        """Every certificate of every region; a region (or a certificate) that cannot be read is a failure."""
        found: list[ManagedCertificate] = []
        failures: list[tuple[str, str]] = []
        for region in self._regions:
            try:
                client = self._client_for(region)
                arns = _listed_arns(client)
            except (SourceError, BotoCoreError) as exc:  # access denied, region not enabled, bad region name
                failures.append(_acm_failure(region, str(exc)))
                continue
            for arn in arns:
                try:
                    found.append(tagged(_acm_certificate(_described(client, arn)), _acm_tags(client, arn)))
                except NotFoundError:
                    logger.info("ACM certificate %s was deleted while being listed", arn)
                except SourceError as exc:
                    failures.append(_acm_failure(region, f"{arn}: {exc}"))
        return CertificateScan(tuple(found), tuple(failures))

    def describe(self, arn: str) -> ManagedCertificate:
        """One ACM certificate by ARN (its region is read from the ARN); NotFoundError when there is none."""
        client = self._client_for(_acm_region(arn))
        return tagged(_acm_certificate(_described(client, arn)), _acm_tags(client, arn))


class IamSource:
    """IAM server certificates; takes a boto3 IAM client. Dates come from the certificate body.

    IAM is global: a scan's failures are ``("iam", message)`` (the listing stops at a failed
    page; a certificate that cannot be read is skipped).
    """

    WHERE = "iam"

    places = ("iam",)

    def __init__(self, client: IAMClient) -> None:
        self._client = client

    def scan(self) -> CertificateScan:
        """Every IAM server certificate (one deleted while being listed is skipped)."""
        found: list[ManagedCertificate] = []
        failures: list[tuple[str, str]] = []
        for metadata in self._metadata(failures):
            name = str(metadata["ServerCertificateName"])
            try:
                answer = _call(self._client.get_server_certificate, "IAM", ServerCertificateName=name)
            except NotFoundError:
                logger.info("IAM server certificate %s was deleted while being listed", name)
                continue
            except SourceError as exc:
                failures.append(self._failure(f"{name}: {exc}"))
                continue
            body = str(answer["ServerCertificate"]["CertificateBody"])
            tags = _tags(answer["ServerCertificate"].get("Tags"))  # GetServerCertificate answers with them
            found.append(tagged(_iam_certificate(name, str(metadata["Arn"]), body), tags))
        return CertificateScan(tuple(found), tuple(failures))

    def _metadata(self, failures: list[tuple[str, str]]) -> Iterator[ServerCertificateMetadataTypeDef]:
        """Every listed certificate's metadata; a page that fails ends the listing, as a failure."""
        listing = pages(functools.partial(_call, self._client.list_server_certificates, "IAM"), "Marker", "Marker")
        try:
            for page in listing:
                yield from page.get("ServerCertificateMetadataList", [])
        except SourceError as exc:
            failures.append(self._failure(str(exc)))

    def _failure(self, message: str) -> tuple[str, str]:
        logger.warning("could not read IAM server certificates: %s", message)
        return (self.WHERE, message)


def _acm_failure(region: str, message: str) -> tuple[str, str]:
    logger.warning("could not read ACM certificates in %s: %s", region, message)
    return (region, message)


def _iam_certificate(name: str, arn: str, body: str) -> ManagedCertificate:
    """An IAM server certificate from its PEM body; one that cannot be parsed has no dates."""
    try:
        cert = x509.load_pem_x509_certificate(body.encode("ascii"))
        dns_names, _ = subject_alt_names(cert)
        return ManagedCertificate(
            source=Source.IAM,
            arn=arn,
            region=None,
            domain=_common_name(cert) or (dns_names[0] if dns_names else name),
            sans=dns_names,
            type="IAM",
            status="ISSUED",
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            key_algorithm=_acm_key_algorithm(cert),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            name=name,
            fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        )
    except _UNPARSEABLE as exc:  # UnicodeEncodeError (non-ASCII PEM) is a ValueError too
        logger.warning("cannot parse the body of IAM server certificate %s: %s", name, exc)
        return ManagedCertificate(
            source=Source.IAM,
            arn=arn,
            region=None,
            domain=name,
            sans=(),
            type="IAM",
            status="ISSUED",
            not_before=None,
            not_after=None,
            key_algorithm="UNKNOWN",
            name=name,
        )


def _acm_key_algorithm(cert: x509.Certificate) -> str:
    """The certificate's key named the way ACM names key algorithms (RSA_2048, EC_prime256v1, ...)."""
    try:
        key = cert.public_key()
    except UnsupportedAlgorithm:
        return "UNKNOWN"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA_{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC_{_ACM_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ED25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "ED448"
    return type(key).__name__.upper()


def _listed_arns(client: ACMClient) -> list[str]:
    listing = pages(
        functools.partial(_call, client.list_certificates, "ACM"),
        "NextToken",
        "NextToken",
        MaxItems=_PAGE_SIZE,
        Includes={"keyTypes": list(ACM_KEY_TYPES)},
    )
    return [str(summary["CertificateArn"]) for page in listing for summary in page.get("CertificateSummaryList", [])]


def _described(client: ACMClient, arn: str) -> CertificateDetailTypeDef:
    return _call(client.describe_certificate, "ACM", CertificateArn=arn)["Certificate"]


def _acm_tags(client: ACMClient, arn: str) -> dict[str, str]:
    """A certificate's tags; none when they cannot be read (its owner and runbook are extras: the
    certificate is still assessed). Throttling and a certificate gone raise, as describing does."""
    try:
        answer = _call(client.list_tags_for_certificate, "ACM", CertificateArn=arn)
    except SourceError as exc:  # e.g. a role without acm:ListTagsForCertificate
        logger.warning("could not read the tags of ACM certificate %s: %s", arn, exc)
        return {}
    return _tags(answer.get("Tags"))


def _tags(listed: object) -> dict[str, str]:
    """AWS's ``[{"Key": ..., "Value": ...}]`` as a map (a tag without a value is empty text)."""
    if not isinstance(listed, list):
        return {}
    return {str(t["Key"]): str(t.get("Value") or "") for t in listed if isinstance(t, dict) and "Key" in t}


def _acm_certificate(data: CertificateDetailTypeDef) -> ManagedCertificate:
    arn = str(data["CertificateArn"])
    renewal: Mapping[str, object] = data.get("RenewalSummary") or {}
    return ManagedCertificate(
        source=Source.ACM,
        arn=arn,
        region=_acm_region(arn),
        domain=str(data.get("DomainName", "")),
        sans=tuple(str(name) for name in data.get("SubjectAlternativeNames", [])),
        type=str(data.get("Type", "")),
        status=str(data.get("Status", "")),
        not_before=_utc(data.get("NotBefore")),
        not_after=_utc(data.get("NotAfter")),
        # The API model spells RSA_2048, but DescribeCertificate has been seen answering RSA-2048.
        key_algorithm=str(data.get("KeyAlgorithm", "")).replace("-", "_"),
        issuer=_optional(data.get("Issuer")),
        serial=_optional(data.get("Serial")),
        renewal_eligibility=_optional(data.get("RenewalEligibility")),
        renewal_status=_optional(renewal.get("RenewalStatus")),
        renewal_reason=_optional(renewal.get("RenewalStatusReason")),
        in_use_by=tuple(str(user) for user in data.get("InUseBy", [])),
    )


def _acm_region(arn: str) -> str:
    """The region of arn:aws:acm:REGION:ACCOUNT:certificate/ID (any partition)."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "acm" or not parsed.region or not parsed.resource:
        raise InvalidValueError(f"not an ACM certificate ARN: {arn!r}", field="arn")
    return parsed.region


def _common_name(cert: x509.Certificate) -> str | None:
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return None


def _utc(value: object) -> datetime | None:
    # botocore parses ACM's epoch timestamps into tzlocal() datetimes.
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _call[**P, R](operation: Callable[P, R], service: str, *args: P.args, **request: P.kwargs) -> R:
    """One AWS call, its failures turned into ThrottledError, NotFoundError or SourceError."""
    try:
        return operation(*args, **request)
    except ClientError as exc:
        if is_throttling(exc):
            raise ThrottledError(f"{service} is throttling requests; retry later") from exc
        if error_code(exc) in _NOT_FOUND:
            raise NotFoundError(f"no such {service} certificate: {error_message(exc)}") from exc
        raise SourceError(f"{service} failed: {error_code(exc)}: {error_message(exc)}") from exc
    except BotoCoreError as exc:  # no endpoint for the region, connection failure, no credentials
        raise SourceError(f"{service} failed: {exc}") from exc
