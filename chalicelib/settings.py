"""certwatch's configuration: one Settings object, read from the environment in one place.

Every variable is checked when it is read: a value certwatch cannot use is a SettingError that
names the variable, its value and what is allowed, never a traceback from deep inside.

Stage values live in ``.chalice/config.json`` (environment_variables); names of AWS resources
follow the stage (``certwatch-<stage>`` ...) unless a variable names them.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.tokens import validate_team
from chalicelib.errors import InvalidRequestError, SettingError


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
    webhook_path: str = "/certwatch/dev/webhooks"
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
            webhook_path=f"/certwatch/{stage}/webhooks",
        )
        return replace(named, **overrides)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives; SettingError names the first variable certwatch cannot use.

        An empty variable counts as unset (its default).
        """
        env = os.environ if env is None else env
        stage = read_text(env, "CERTWATCH_STAGE", "dev", _STAGE, "1-40 letters, digits, '-' or '_'")
        base = cls.for_stage(stage)
        allow_cidrs = _given(env, "CERTWATCH_ALLOW_CIDRS") or ""
        try:
            AddressPolicy.from_text(allow_cidrs)
        except ValueError:
            raise SettingError(
                "CERTWATCH_ALLOW_CIDRS", allow_cidrs, "comma-separated networks such as 10.0.0.0/8,fd00::/8"
            ) from None
        return replace(
            base,
            table_name=_given(env, "CERTWATCH_TABLE") or base.table_name,
            check_queue_name=_given(env, "CERTWATCH_CHECK_QUEUE") or base.check_queue_name,
            check_queue_url=_given(env, "CERTWATCH_CHECK_QUEUE_URL"),
            topic_name=_given(env, "CERTWATCH_TOPIC") or base.topic_name,
            topic_arn=_given(env, "CERTWATCH_TOPIC_ARN"),
            allow_cidrs=allow_cidrs,
            check_timeout=read_seconds(env, "CERTWATCH_CHECK_TIMEOUT", 10.0, most=60.0),
            check_concurrency=read_int(env, "CERTWATCH_CHECK_CONCURRENCY", 32, 1, 256),
            sweep_minutes=read_int(env, "CERTWATCH_SWEEP_MINUTES", 15, 1, 1440),
            checker_batch=read_int(env, "CERTWATCH_CHECKER_BATCH", 25, 1, 10_000),  # SQS's batch size limit
            # The SQS event source's maximum concurrency takes 2-1000.
            checker_max_concurrency=read_int(env, "CERTWATCH_CHECKER_MAX_CONCURRENCY", 20, 2, 1000),
            unreachable_after=read_int(env, "CERTWATCH_UNREACHABLE_AFTER", 2, 1, 100),
            repeat_critical_hours=read_int(env, "CERTWATCH_REPEAT_CRITICAL_HOURS", 0, 0, 8760) or None,
            public_url=_url(env, "CERTWATCH_PUBLIC_URL"),
            slack_parameter=read_text(
                env, "CERTWATCH_SLACK_PARAMETER", base.slack_parameter, _PARAMETER, "an SSM parameter name such as /a/b"
            ),
            slack_webhook_url=_url(env, "CERTWATCH_SLACK_WEBHOOK_URL", secret=True),
            webhook_path=read_text(
                env, "CERTWATCH_WEBHOOK_PATH", base.webhook_path, _PARAMETER, "an SSM parameter path such as /a/b"
            ),
            acm_regions=_regions(env, "CERTWATCH_ACM_REGIONS"),
            acm_team=_team(env, "CERTWATCH_ACM_TEAM"),
            inventory_hours=read_int(env, "CERTWATCH_INVENTORY_HOURS", 24, 1, 720),
            scan_iam=read_bool(env, "CERTWATCH_SCAN_IAM", True),
            revocation=read_switch(env, "CERTWATCH_REVOCATION", True),
            ari=read_switch(env, "CERTWATCH_ARI", True),
            ari_directories=_given(env, "CERTWATCH_ARI_DIRECTORIES") or "",
            fetch_timeout=read_seconds(env, "CERTWATCH_FETCH_TIMEOUT", 5.0, most=60.0),
            crl_max_bytes=read_int(env, "CERTWATCH_CRL_MAX_BYTES", 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
        )


def settings_or_exit(env: Mapping[str, str] | None = None) -> Settings:
    """Settings.from_env for a process's start (a function's cold start, `chalice deploy`).

    A bad setting is one line on standard error and exit status 2: a Lambda function logs that
    line (and fails its start, which Lambda reports as Runtime.ExitError), never a traceback.
    """
    try:
        return Settings.from_env(env)
    except SettingError as exc:
        print(f"certwatch cannot start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


_STAGE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_PARAMETER = re.compile(r"/[A-Za-z0-9_.\-/]{1,1000}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_INT = re.compile(r"[+-]?\d{1,9}")


def _given(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value is not None and value.strip() else None


def read_text(env: Mapping[str, str], name: str, default: str, pattern: re.Pattern[str], allowed: str) -> str:
    """A text setting that must match ``pattern`` in full."""
    value = _given(env, name)
    if value is None:
        return default
    if not pattern.fullmatch(value):
        raise SettingError(name, value, allowed)
    return value


def read_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole-number setting from ``low`` to ``high``."""
    value = _given(env, name)
    if value is None:
        return default
    if not _INT.fullmatch(value.strip()) or not low <= int(value) <= high:
        raise SettingError(name, value, f"a whole number from {low} to {high}")
    return int(value)


def read_seconds(env: Mapping[str, str], name: str, default: float, *, most: float) -> float:
    """A number of seconds above 0, at most ``most``."""
    value = _given(env, name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= most:  # NaN fails this too
        raise SettingError(name, value, f"a number of seconds above 0, at most {most:g}")
    return seconds


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _given(env, name)
    if value is None:
        return default
    if value.strip().lower() not in ("true", "false"):
        raise SettingError(name, value, "true or false")
    return value.strip().lower() == "true"


def read_switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: on, true, yes, 1 or off, false, no, 0 (any case)."""
    value = _given(env, name)
    if value is None:
        return default
    word = value.strip().lower()
    if word not in _ON | _OFF:
        raise SettingError(name, value, "on or off (true/false, yes/no, 1/0)")
    return word in _ON


_ON, _OFF = {"on", "true", "yes", "1"}, {"off", "false", "no", "0"}


def _url(env: Mapping[str, str], name: str, *, secret: bool = False) -> str | None:
    value = _given(env, name)
    if value is None:
        return None
    try:
        parts = urlsplit(value.strip())
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise SettingError(name, value, "an http:// or https:// URL", secret=secret)
    return value.strip()


def _regions(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    regions = tuple(r.strip() for r in (_given(env, name) or "").split(",") if r.strip())
    if not all(_REGION.fullmatch(region) for region in regions):
        raise SettingError(name, env[name], "comma-separated AWS regions such as us-east-1,eu-west-1")
    return regions


def _team(env: Mapping[str, str], name: str) -> str | None:
    value = _given(env, name)
    if value is None:
        return None
    try:
        return validate_team(value)
    except InvalidRequestError:
        raise SettingError(
            name, value, "1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit"
        ) from None


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
