"""The layers of chalicelib/, held by reading every module's imports.

Imports point down: the HTTP edge and the operator's CLI use services; services use the checking
engine, the presentation of documents and the domain; adapters (one per outside system) use the
domain, and the presentation of the wire they send (the SNS adapter renders the event document);
the domain imports nothing above it. Services pass alert events on as typed facts: they never
import the event document's renderers (``presentation.events``). The composition root (deps.py) may import
anything, and nothing but app.py, the CLI and the tests may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each layer may import (besides itself). "errors" is the one error root, beside the domain.
ALLOWED: dict[str, set[str]] = {
    "domain": {"errors"},
    "errors": {"domain"},
    "checks": {"domain", "errors"},
    "presentation": {"domain", "errors"},
    "adapters": {"domain", "errors", "presentation"},
    "services": {"checks", "presentation", "domain", "errors"},
    "http": {"services", "presentation", "domain", "errors", "package"},
    "settings": {"domain", "errors"},
    "deps": {"adapters", "checks", "domain", "errors", "presentation", "services", "settings"},
    "package": set(),
    "app": {"http", "deps", "settings", "presentation", "services", "domain", "package", "adapters.telemetry"},
    "cli": {
        "adapters",
        "checks",
        "domain",
        "errors",
        "presentation",
        "services",
        "settings",
        "deps",
        "http",
        "package",
    },
}


# What a layer may not import although its layer is allowed: (importing layer, module prefix).
FORBIDDEN: tuple[tuple[str, str], ...] = (("services", "chalicelib.presentation.events"),)


def layer(module: str) -> str | None:
    """The layer of a module of ours (None for anything else): chalicelib.<layer>.x, or app, or the CLI."""
    parts = module.split(".")
    if parts[0] == "certwatch":
        return "cli"
    if parts[0] == "app":
        return "app"
    if parts[0] != "chalicelib":
        return None
    return parts[1] if len(parts) > 1 and parts[1] != "__version__" else "package"


def modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for path in sorted([*ROOT.glob("chalicelib/**/*.py"), *ROOT.glob("certwatch/**/*.py")]):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def violations(sources: dict[str, list[str]]) -> list[str]:
    found = []
    for module, imported in sources.items():
        mine = layer(module) or "?"
        assert mine in ALLOWED, f"{module} is in no known layer: add it to ALLOWED"
        for name in imported:
            theirs = layer(name)
            if theirs is None or theirs in {mine, "package"}:  # chalicelib/__init__.py holds only the version
                continue
            qualified = ".".join(name.split(".")[1:3])  # e.g. adapters.telemetry
            if theirs not in ALLOWED[mine] and qualified not in ALLOWED[mine]:
                found.append(f"{module} imports {name} ({mine} -> {theirs})")
            elif any(mine == layer_ and (name + ".").startswith(prefix + ".") for layer_, prefix in FORBIDDEN):
                found.append(f"{module} imports {name} (forbidden to {mine})")
    return found


def test_imports_only_point_down() -> None:
    sources = {name: imports(path) for name, path in modules().items()}
    assert violations(sources) == []


def test_every_package_of_chalicelib_is_a_known_layer() -> None:
    packages = {path.parent.name for path in ROOT.glob("chalicelib/*/__init__.py")}
    assert packages <= set(ALLOWED)


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("chalicelib.domain.models", "chalicelib.services.registry.TargetRegistry"),
        ("chalicelib.adapters.sns", "chalicelib.services.pipeline.Alerter"),
        ("chalicelib.services.alerting", "chalicelib.presentation.events.email_text"),
        ("chalicelib.services.registry", "chalicelib.http.payloads.target_spec"),
        ("chalicelib.http.api", "chalicelib.adapters.dynamo.DynamoStore"),
        ("chalicelib.services.pipeline", "certwatch.admin.main"),
    ],
)
def test_an_upward_or_sideways_import_is_caught(module: str, imported: str) -> None:
    assert violations({module: [imported]}) != []


def test_no_test_fake_ships_in_the_lambda_bundle() -> None:
    fakes = [
        f"{path.relative_to(ROOT)}: {node.name}"
        for path in sorted(ROOT.glob("chalicelib/**/*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name.startswith(("InMemory", "Recording", "Fake"))
    ]
    assert fakes == [], "fakes belong in tests/support/"


def test_tests_share_pieces_through_tests_support_never_a_conftest() -> None:
    """A conftest holds fixtures for its folder; what test modules import lives in tests/support/
    (or a helpers module of their own folder), and the unit tests import no other suite's helpers."""
    found = []
    for path in sorted(ROOT.glob("tests/**/*.py")):
        where = path.relative_to(ROOT)
        for name in imports(path):
            parts = name.split(".")
            another_suite = parts[0] == "tests" and parts[1] not in {"support", where.parts[1]}
            if "conftest" in parts or (where.parts[1] == "unit" and another_suite):
                found.append(f"{where} imports {name}")
    assert found == []
