"""What the policy and deploy tests share: the Lambda functions as Chalice builds them, and IAM matching.

``chalice_functions`` asks Chalice's own application graph (what ``chalice deploy`` and
``chalice package`` walk), so the names and policy files are the ones Chalice really uses, not
a copy of them. ``allows`` evaluates an identity policy the way IAM does for the parts these
policies use: Allow/Deny statements, ``Action`` and ``Resource`` with ``*`` and ``?`` wildcards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHALICE_DIR = ROOT / ".chalice"
# Chalice's function names in a stage -> the logical ids `chalice package` gives them in SAM output.
SAM_FUNCTIONS = {
    "api_handler": "APIHandler",
    "token_auth": "TokenAuth",
    "sweep": "Sweep",
    "checker": "Checker",
    "checker_alone": "CheckerAlone",
    "slack": "Slack",
    "webhooks": "Webhooks",
    "inventory": "Inventory",
    "acm_events": "AcmEvents",
}


@dataclass(frozen=True)
class ChaliceFunction:
    """One Lambda function of the app as Chalice deploys it to a stage."""

    name: str  # Chalice's name for it: the key of lambda_functions in .chalice/config.json
    function_name: str  # the deployed Lambda function's name
    handler: str
    policy_file: Path | None  # the iam_policy_file Chalice gives its role (None: generated or none)


@cache
def chalice_functions(stage: str) -> dict[str, ChaliceFunction]:
    """Every Lambda function Chalice builds for ``stage`` from app.py and .chalice/config.json, by name."""
    from chalice.config import Config
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder

    from app import app

    config = Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": app},
        config_from_disk=json.loads((CHALICE_DIR / "config.json").read_text()),
        default_params={
            "project_dir": str(ROOT),
            "api_gateway_stage": "api",
            "api_gateway_endpoint_type": "EDGE",
            "autogen_policy": True,
        },
    )
    graph = ApplicationGraphBuilder().build(config, stage)
    found: dict[str, ChaliceFunction] = {}
    for resource in DependencyBuilder().build_dependencies(graph):
        if isinstance(resource, models.LambdaFunction):
            policy = getattr(resource.role, "policy", None)
            filename = policy.filename if isinstance(policy, models.FileBasedIAMPolicy) else None
            found[resource.resource_name] = ChaliceFunction(
                name=resource.resource_name,
                function_name=resource.function_name,
                handler=resource.handler,
                policy_file=None if filename is None else Path(filename).resolve(),
            )
    return found


def policy_file(stage: str, function: str) -> dict[str, Any]:
    """The committed policy document of one function in one stage."""
    document: dict[str, Any] = json.loads((CHALICE_DIR / f"policy-{stage}-{function}.json").read_text())
    return document


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def listed(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def granted_actions(document: dict[str, Any]) -> set[str]:
    """Every action an Allow statement of the document names (as written, wildcards included)."""
    return {
        action
        for statement in statements(document)
        if statement["Effect"] == "Allow"
        for action in listed(statement["Action"])
    }


def allows(document: dict[str, Any], action: str, resource: str) -> bool:
    """Whether the identity policy lets its holder do ``action`` on ``resource`` (an explicit Deny wins)."""
    decision = False
    for statement in statements(document):
        if not any(_matches(pattern, action, ignore_case=True) for pattern in listed(statement["Action"])):
            continue
        if not any(_matches(pattern, resource, ignore_case=False) for pattern in listed(statement["Resource"])):
            continue
        if statement["Effect"] == "Deny":
            return False
        decision = True
    return decision


def _matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(expression, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None
