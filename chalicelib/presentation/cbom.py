"""The CBOM: what checks saw, as a CycloneDX 1.6 Cryptography Bill of Materials (JSON).

Built with cyclonedx-python-lib (the OWASP project's own model and serializer), never written by
hand. One ``cryptographic-asset`` component per certificate (by its SHA-256 fingerprint), per
algorithm (by name), per certificate's public key and per TLS protocol an endpoint's address
negotiated; each endpoint is a service. The dependencies say what rests on what: endpoint →
protocol → certificates served (and the key exchange group) → signature algorithm, hash and
public key → the key's algorithm. ACM and IAM certificates are components too, with their key.

Nothing here imports the library at module load beyond this module: only ``GET /cbom`` and the
CLI's CBOM commands load it (``tests/e2e/test_startup.py`` holds what a cold start imports).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.crypto import (
    AlgorithmProperties,
    CertificateProperties,
    CryptoAssetType,
    CryptoPrimitive,
    CryptoProperties,
    ProtocolProperties,
    ProtocolPropertiesCipherSuite,
    ProtocolPropertiesType,
    RelatedCryptoMaterialProperties,
    RelatedCryptoMaterialType,
)
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.service import Service
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6

from chalicelib.domain.algorithms import Algorithm, group_algorithm
from chalicelib.domain.inventory import ManagedCertificate, leaf_info
from chalicelib.domain.metrics import Watched
from chalicelib.domain.models import CertificateInfo, CheckResult, TargetReport
from chalicelib.domain.posture import key_exchange

MEDIA_TYPE = "application/vnd.cyclonedx+json; version=1.6"
SPEC_VERSION = "1.6"


@dataclass(frozen=True, slots=True)
class Observed:
    """A report the CBOM describes, and whose it is: a registered target's team and id (none for a one-off check)."""

    report: TargetReport
    team: str | None = None
    target_id: str | None = None


def observed(watched: Iterable[Watched]) -> list[Observed]:
    """The targets checked at least once, each with its team and id (one never checked has nothing to describe)."""
    return [Observed(one.report, one.target.team, one.target.id) for one in watched if one.report is not None]


def cbom_json(
    observed: Sequence[Observed],
    managed: Sequence[ManagedCertificate] = (),
    *,
    now: datetime,
    version: str,
    indent: int | None = None,
) -> str:
    """The CycloneDX 1.6 JSON document of what ``observed`` served and the ``managed`` certificates, at ``now``."""
    builder = _Builder()
    for one in observed:
        builder.endpoint(one)
    for cert in managed:
        builder.managed(cert)
    tool = Component(type=ComponentType.APPLICATION, name="certwatch", version=version)
    bom = Bom(
        components=builder.components.values(),
        services=builder.services,
        metadata=BomMetaData(tools=ToolRepository(components=[tool]), timestamp=now),
        dependencies=builder.dependencies(),
    )
    return JsonV1Dot6(bom).output_as_string(indent=indent)


class _Builder:
    """Components by bom-ref (each once), services, and what each depends on."""

    def __init__(self) -> None:
        self.components: dict[str, Component] = {}
        self.services: list[Service] = []
        self._refs: dict[str, BomRef] = {}
        self._depends: dict[str, dict[str, None]] = {}

    def ref(self, value: str) -> BomRef:
        return self._refs.setdefault(value, BomRef(value))

    def depends(self, source: str, *targets: str) -> None:
        self._depends.setdefault(source, {}).update(dict.fromkeys(targets))

    def dependencies(self) -> list[Dependency]:
        return [
            Dependency(self.ref(source), [Dependency(self.ref(target)) for target in targets])
            for source, targets in self._depends.items()
        ]

    def endpoint(self, observed: Observed) -> None:
        report = observed.report
        name = str(report.endpoint)
        where = f"{observed.team}/{observed.target_id}" if observed.target_id else name
        ref = f"endpoint:{where}"
        properties = [Property(name="certwatch:status", value=report.status.value)]
        if observed.team is not None:
            properties.append(Property(name="certwatch:team", value=observed.team))
        if observed.target_id is not None:
            properties.append(Property(name="certwatch:target_id", value=observed.target_id))
        self.services.append(Service(name=name, bom_ref=self.ref(ref), endpoints=[XsUri(name)], properties=properties))
        self.depends(ref)
        for result in report.results:
            protocol = self.protocol(where, name, result)
            if protocol is not None:
                self.depends(ref, protocol)

    def protocol(self, where: str, name: str, result: CheckResult) -> str | None:
        """The TLS protocol one address negotiated, and the certificates it served; None when nothing was read."""
        if result.tls_version is None and result.leaf is None:
            return None
        ref = f"protocol:{where}@{result.address or '-'}"
        served = [cert for cert in (result.leaf, *result.chain) if cert is not None]
        certificates = [self.certificate(cert) for cert in served]
        group = None if result.group is None else self.algorithm(group_algorithm(result.group))
        version = (result.tls_version or "").removeprefix("TLSv") or None
        suites = [] if result.cipher is None else [ProtocolPropertiesCipherSuite(name=result.cipher)]
        properties = [Property(name="certwatch:address", value=result.address)] if result.address else []
        if result.group is not None:
            properties.append(Property(name="certwatch:group", value=result.group))
            properties.append(Property(name="certwatch:key_exchange", value=str(key_exchange(result.group))))
        self._add(
            ref,
            Component(
                type=ComponentType.CRYPTOGRAPHIC_ASSET,
                name=f"{result.tls_version or 'TLS'} at {name}" + (f" ({result.address})" if result.address else ""),
                bom_ref=self.ref(ref),
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.PROTOCOL,
                    protocol_properties=ProtocolProperties(
                        type=ProtocolPropertiesType.TLS,
                        version=version,
                        cipher_suites=suites,
                        crypto_refs=[self.ref(group)] if group else [],
                    ),
                ),
                properties=properties,
            ),
        )
        self.depends(ref, *certificates, *([group] if group else []))
        return ref

    def certificate(self, cert: CertificateInfo, *, extra: Iterable[Property] = ()) -> str:
        """A certificate's component (once per fingerprint), with its key and algorithms."""
        ref = f"certificate:{cert.fingerprint_sha256}"
        if ref in self.components:
            self.components[ref].properties.update(extra)
            return ref
        facts = cert.algorithms
        key = self.public_key(cert)
        signature = self.algorithm(facts.signature) if cert.signature_algorithm else None
        hashed = None if facts.hash is None else self.algorithm(facts.hash)
        properties = [
            Property(name="certwatch:serial", value=cert.serial),
            Property(name="certwatch:fingerprint_sha256", value=cert.fingerprint_sha256),
            *(Property(name="certwatch:san", value=name) for name in (*cert.sans, *cert.ip_sans)),
            *extra,
        ]
        if cert.is_ca:
            properties.append(Property(name="certwatch:is_ca", value="true"))
        self._add(
            ref,
            Component(
                type=ComponentType.CRYPTOGRAPHIC_ASSET,
                name=cert.common_name,
                bom_ref=self.ref(ref),
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=cert.fingerprint_sha256)],
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.CERTIFICATE,
                    certificate_properties=CertificateProperties(
                        subject_name=cert.subject,
                        issuer_name=cert.issuer or None,
                        not_valid_before=cert.not_before,
                        not_valid_after=cert.not_after,
                        signature_algorithm_ref=None if signature is None else self.ref(signature),
                        subject_public_key_ref=self.ref(key),
                        certificate_format="X.509",
                    ),
                ),
                properties=properties,
            ),
        )
        self.depends(ref, *(r for r in (signature, hashed, key) if r is not None))
        return ref

    def public_key(self, cert: CertificateInfo) -> str:
        """A certificate's public key (one per certificate: its facts name no key of its own)."""
        algorithm = cert.algorithms.key
        ref = f"key:{cert.fingerprint_sha256}"
        algorithm_ref = self.algorithm(algorithm)
        self._add(
            ref,
            Component(
                type=ComponentType.CRYPTOGRAPHIC_ASSET,
                name=f"{algorithm.name} public key of {cert.common_name}",
                bom_ref=self.ref(ref),
                crypto_properties=CryptoProperties(
                    asset_type=CryptoAssetType.RELATED_CRYPTO_MATERIAL,
                    related_crypto_material_properties=RelatedCryptoMaterialProperties(
                        type=RelatedCryptoMaterialType.PUBLIC_KEY,
                        algorithm_ref=self.ref(algorithm_ref),
                        size=cert.key_size or None,
                        format="SubjectPublicKeyInfo",
                    ),
                    oid=algorithm.oid,
                ),
            ),
        )
        self.depends(ref, algorithm_ref)
        return ref

    def algorithm(self, algorithm: Algorithm) -> str:
        ref = f"algorithm:{algorithm.name}"
        if ref not in self.components:
            self._add(
                ref,
                Component(
                    type=ComponentType.CRYPTOGRAPHIC_ASSET,
                    name=algorithm.name,
                    bom_ref=self.ref(ref),
                    crypto_properties=CryptoProperties(
                        asset_type=CryptoAssetType.ALGORITHM,
                        algorithm_properties=AlgorithmProperties(
                            primitive=CryptoPrimitive(algorithm.primitive.value),
                            parameter_set_identifier=algorithm.parameter_set,
                            curve=algorithm.curve,
                            nist_quantum_security_level=algorithm.nist_quantum_level,
                        ),
                        oid=algorithm.oid,
                    ),
                ),
            )
            self.depends(ref)
        return ref

    def managed(self, cert: ManagedCertificate) -> None:
        """A certificate held in ACM or IAM: its facts as the inventory knows them, and where it is."""
        extra = [
            Property(name="certwatch:source", value=cert.source.value),
            Property(name="certwatch:arn", value=cert.arn),
        ]
        extra += [Property(name="certwatch:in_use_by", value=arn) for arn in cert.in_use_by]
        self.certificate(leaf_info(cert), extra=extra)

    def _add(self, ref: str, component: Component) -> None:
        self.components[ref] = component
