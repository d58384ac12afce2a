"""Reading a CBOM in tests: validated against CycloneDX 1.6 by the library's own strict JSON validator, then
its components and dependencies by bom-ref."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


@dataclass(frozen=True)
class Cbom:
    """A CycloneDX document that validated: its components and services by bom-ref, and what each depends on."""

    document: dict[str, Any]

    @property
    def components(self) -> dict[str, dict[str, Any]]:
        return {c["bom-ref"]: c for c in self.document.get("components", [])}

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return {s["bom-ref"]: s for s in self.document.get("services", [])}

    @property
    def depends(self) -> dict[str, set[str]]:
        return {d["ref"]: set(d.get("dependsOn", [])) for d in self.document.get("dependencies", [])}

    def of_type(self, asset_type: str) -> dict[str, dict[str, Any]]:
        return {ref: c for ref, c in self.components.items() if c["cryptoProperties"]["assetType"] == asset_type}

    def certificates_served(self, endpoint_ref: str) -> set[str]:
        """The fingerprints of the certificates the endpoint's protocols depend on."""
        return {
            ref.removeprefix("certificate:")
            for protocol in self.depends[endpoint_ref]
            for ref in self.depends[protocol]
            if ref.startswith("certificate:")
        }

    def endpoint_named(self, name: str) -> str:
        (ref,) = [ref for ref, service in self.services.items() if service["name"] == name]
        return ref


def read_cbom(text: str | dict[str, Any]) -> Cbom:
    """The CBOM ``text`` holds (or the document the API answered), after the 1.6 schema's strict validation."""
    raw = text if isinstance(text, str) else json.dumps(text)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw)
    assert error is None, error
    document = json.loads(raw)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")
    return Cbom(document)
