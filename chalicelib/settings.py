"""certwatch's configuration: one Settings object, read from the environment in one place.

Stage values live in ``.chalice/config.json`` (environment_variables); names of AWS resources
follow the stage (``certwatch-<stage>`` ...) unless a variable names them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str = "dev"
    table_name: str = "certwatch-dev"
    check_queue_name: str = "certwatch-dev-checks"
    check_queue_url: str | None = None
    topic_name: str = "certwatch-dev-alerts"
    topic_arn: str | None = None
    allow_cidrs: str = ""
    check_timeout: float = 10.0
    check_concurrency: int = 32
    sweep_minutes: int = 15
    checker_batch: int = 25
    checker_max_concurrency: int = 20
    unreachable_after: int = 2
    repeat_critical_hours: int | None = None
    public_url: str | None = None
    slack_parameter: str = "/certwatch/dev/slack-webhook-url"
    slack_webhook_url: str | None = None
    acm_regions: tuple[str, ...] = ()
    acm_team: str | None = None
    inventory_hours: int = 24
    scan_iam: bool = True
    revocation: bool = True  # ask CAs (CRL, OCSP) whether served certificates are revoked
    ari: bool = True  # ask ACME CAs for their renewal windows (RFC 9773)
    ari_directories: str = ""  # JSON: issuer "O=..."/"CN=..." -> ACME directory URL, over the defaults
    fetch_timeout: float = 5.0  # for everything one check fetches from the URLs a certificate names
    crl_max_bytes: int = 10 * 1024 * 1024

    @classmethod
    def for_stage(cls, stage: str, **overrides: object) -> Settings:
        """The defaults of a stage: every resource name carries the stage, as infra/template.yaml names it."""
        named = cls(
            stage=stage,
            table_name=f"certwatch-{stage}",
            check_queue_name=f"certwatch-{stage}-checks",
            topic_name=f"certwatch-{stage}-alerts",
            slack_parameter=f"/certwatch/{stage}/slack-webhook-url",
        )
        return replace(named, **overrides)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        base = cls.for_stage(env.get("CERTWATCH_STAGE", "dev"))
        repeat = int(env.get("CERTWATCH_REPEAT_CRITICAL_HOURS", "0") or 0)
        return replace(
            base,
            table_name=env.get("CERTWATCH_TABLE", base.table_name),
            check_queue_name=env.get("CERTWATCH_CHECK_QUEUE", base.check_queue_name),
            check_queue_url=env.get("CERTWATCH_CHECK_QUEUE_URL") or None,
            topic_name=env.get("CERTWATCH_TOPIC", base.topic_name),
            topic_arn=env.get("CERTWATCH_TOPIC_ARN") or None,
            allow_cidrs=env.get("CERTWATCH_ALLOW_CIDRS", ""),
            check_timeout=float(env.get("CERTWATCH_CHECK_TIMEOUT", "10")),
            check_concurrency=int(env.get("CERTWATCH_CHECK_CONCURRENCY", "32")),
            sweep_minutes=int(env.get("CERTWATCH_SWEEP_MINUTES", "15")),
            checker_batch=int(env.get("CERTWATCH_CHECKER_BATCH", "25")),
            checker_max_concurrency=int(env.get("CERTWATCH_CHECKER_MAX_CONCURRENCY", "20")),
            unreachable_after=int(env.get("CERTWATCH_UNREACHABLE_AFTER", "2")),
            repeat_critical_hours=repeat or None,
            public_url=env.get("CERTWATCH_PUBLIC_URL") or None,
            slack_parameter=env.get("CERTWATCH_SLACK_PARAMETER", base.slack_parameter),
            slack_webhook_url=env.get("CERTWATCH_SLACK_WEBHOOK_URL") or None,
            acm_regions=tuple(r.strip() for r in env.get("CERTWATCH_ACM_REGIONS", "").split(",") if r.strip()),
            acm_team=env.get("CERTWATCH_ACM_TEAM") or None,
            inventory_hours=int(env.get("CERTWATCH_INVENTORY_HOURS", "24")),
            scan_iam=env.get("CERTWATCH_SCAN_IAM", "true").lower() != "false",
            revocation=_switch(env.get("CERTWATCH_REVOCATION", "on")),
            ari=_switch(env.get("CERTWATCH_ARI", "on")),
            ari_directories=env.get("CERTWATCH_ARI_DIRECTORIES", ""),
            fetch_timeout=_positive(env, "CERTWATCH_FETCH_TIMEOUT", 5.0),
            crl_max_bytes=int(_positive(env, "CERTWATCH_CRL_MAX_BYTES", 10 * 1024 * 1024)),
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number setting; ValueError naming the setting otherwise."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}: expected a positive number, not {text!r}")
    return value


def _switch(text: str) -> bool:
    """An on/off setting: off, false, no or 0 turn it off (any case); anything else leaves it on."""
    return text.strip().lower() not in {"off", "false", "no", "0"}


CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"


def stage_environment(stage: str, config: Path = CHALICE_CONFIG) -> dict[str, str]:
    """The environment variables .chalice/config.json gives a stage (global, then the stage's own)."""
    try:
        document = json.loads(config.read_text())
    except (OSError, ValueError):
        return {}
    merged = dict(document.get("environment_variables") or {})
    merged |= (document.get("stages", {}).get(stage) or {}).get("environment_variables") or {}
    return {str(k): str(v) for k, v in merged.items()}


def operator_settings(stage: str, env: Mapping[str, str] | None = None) -> Settings:
    """Settings for the operator's commands: the stage's config, overridden by CERTWATCH_* variables."""
    env = os.environ if env is None else env
    given = {k: v for k, v in env.items() if k.startswith("CERTWATCH_")}
    return Settings.from_env({**stage_environment(stage), **given, "CERTWATCH_STAGE": stage})
