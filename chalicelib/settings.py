"""certwatch's configuration: one Settings object, read from the environment in one place.

Every variable is checked when it is read, whole (a JSON value and every URL in it too): a value
certwatch cannot use is a SettingError that names the variable, its value, what is wrong with it
and an example of a good one, never a traceback from deep inside nor a failure of each check later.

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
from urllib.parse import SplitResult, urlsplit

from chalicelib.errors import InvalidValueError, SettingError


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str = "dev"
    table_name: str = "certwatch-dev"
    check_queue_name: str = "certwatch-dev-checks"
    check_queue_url: str | None = None
    # Where a batch's stragglers are checked alone (the checker_alone function's queue).
    alone_queue_name: str = "certwatch-dev-checks-alone"
    alone_queue_url: str | None = None
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
    silence_max_days: int = 30
    scan_iam: bool = True
    revocation: bool = True  # ask CAs (CRL, OCSP) whether served certificates are revoked
    ari: bool = True  # ask ACME CAs for their renewal windows (RFC 9773)
    # Ask every checked address, in a second handshake, whether it accepts TLS 1.0 or 1.1 (a policy
    # may ask it for one team or target; see docs/posture.md for what it costs).
    legacy_tls_probe: bool = False
    ari_directories: str = ""  # JSON: issuer "O=..."/"CN=..." -> ACME directory URL, over the defaults
    fetch_timeout: float = 5.0  # for everything one check fetches from the URLs a certificate names
    crl_max_bytes: int = 10 * 1024 * 1024
    # Watched domains (docs/domains.md): the CT source (Cert Spotter's API), its optional API key in
    # SSM, how long a new certificate may stay undeployed, how often a domain is swept, and RDAP
    # servers over the shipped bootstrap file (JSON: TLD -> base URL).
    ct_url: str = "https://api.certspotter.com"
    ct_key_parameter: str = "/certwatch/dev/certspotter-api-key"
    ct_grace_hours: int = 48
    domain_sweep_minutes: int = 60
    rdap_servers: str = ""
    # EMF counts; POWERTOOLS_METRICS_DISABLED=true turns them off (powertools' Metrics honours it
    # itself, its single_metric does not: telemetry.py is told for both).
    metrics: bool = True
    # Which of the checker's series carry each team too (CloudWatch bills $0.30 a custom metric a
    # month): "on" SoonestExpiryDays and ChecksByStatus (about five metrics a team), "expiry"
    # SoonestExpiryDays alone (one a team: the dashboard's by-team widget), "off" neither. The
    # stage's own series, which the alarms read, are written whichever it is.
    team_metrics: str = "expiry"

    @classmethod
    def for_stage(cls, stage: str, **overrides: object) -> Settings:
        """The defaults of a stage: every resource name carries the stage, as infra/template.yaml names it."""
        named = cls(
            stage=stage,
            table_name=f"certwatch-{stage}",
            check_queue_name=f"certwatch-{stage}-checks",
            alone_queue_name=f"certwatch-{stage}-checks-alone",
            topic_name=f"certwatch-{stage}-alerts",
            slack_parameter=f"/certwatch/{stage}/slack-webhook-url",
            webhook_path=f"/certwatch/{stage}/webhooks",
            ct_key_parameter=f"/certwatch/{stage}/certspotter-api-key",
        )
        return replace(named, **overrides)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives; SettingError names the first variable certwatch cannot use.

        An empty variable counts as unset: its default, the field's above.
        """
        env = os.environ if env is None else env
        stage = read_text(
            env, "CERTWATCH_STAGE", cls().stage, _STAGE, "1-40 letters, digits, '-' or '_'", example="prod"
        )
        base = cls.for_stage(stage)
        return replace(
            _with_resources(env, base),
            allow_cidrs=_networks(env, "CERTWATCH_ALLOW_CIDRS"),
            check_timeout=read_seconds(env, "CERTWATCH_CHECK_TIMEOUT", base.check_timeout, most=60.0),
            check_concurrency=read_int(env, "CERTWATCH_CHECK_CONCURRENCY", base.check_concurrency, 1, 256),
            sweep_minutes=read_int(env, "CERTWATCH_SWEEP_MINUTES", base.sweep_minutes, 1, 1440),
            # SQS's batch size limit
            checker_batch=read_int(env, "CERTWATCH_CHECKER_BATCH", base.checker_batch, 1, 10_000),
            # The SQS event source's maximum concurrency takes 2-1000.
            checker_max_concurrency=read_int(
                env, "CERTWATCH_CHECKER_MAX_CONCURRENCY", base.checker_max_concurrency, 2, 1000
            ),
            unreachable_after=read_int(env, "CERTWATCH_UNREACHABLE_AFTER", base.unreachable_after, 1, 100),
            # 0 is off (None), as unset is.
            repeat_critical_hours=read_int(
                env, "CERTWATCH_REPEAT_CRITICAL_HOURS", base.repeat_critical_hours or 0, 0, 8760, example=24
            )
            or None,
            public_url=_base_url(env, "CERTWATCH_PUBLIC_URL"),
            slack_webhook_url=_slack_url(env, "CERTWATCH_SLACK_WEBHOOK_URL"),
            acm_regions=_regions(env, "CERTWATCH_ACM_REGIONS"),
            acm_team=_team(env, "CERTWATCH_ACM_TEAM"),
            inventory_hours=read_int(env, "CERTWATCH_INVENTORY_HOURS", base.inventory_hours, 1, 720),
            silence_max_days=read_int(env, "CERTWATCH_SILENCE_MAX_DAYS", base.silence_max_days, 1, 365),
            scan_iam=read_bool(env, "CERTWATCH_SCAN_IAM", base.scan_iam),
            revocation=read_switch(env, "CERTWATCH_REVOCATION", base.revocation),
            ari=read_switch(env, "CERTWATCH_ARI", base.ari),
            legacy_tls_probe=read_switch(env, "CERTWATCH_LEGACY_TLS_PROBE", base.legacy_tls_probe),
            ari_directories=_ari_directories(env, "CERTWATCH_ARI_DIRECTORIES"),
            fetch_timeout=read_seconds(env, "CERTWATCH_FETCH_TIMEOUT", base.fetch_timeout, most=60.0),
            crl_max_bytes=read_int(env, "CERTWATCH_CRL_MAX_BYTES", base.crl_max_bytes, 1024, 1024 * 1024 * 1024),
            metrics=not _powertools_switch(env, "POWERTOOLS_METRICS_DISABLED"),
            team_metrics=read_team_metrics(env, "CERTWATCH_TEAM_METRICS", base.team_metrics),
            ct_url=_base_url(env, "CERTWATCH_CT_URL", what="Cert Spotter's API", example=base.ct_url) or base.ct_url,
            ct_key_parameter=read_text(
                env,
                "CERTWATCH_CT_KEY_PARAMETER",
                base.ct_key_parameter,
                _PARAMETER,
                "an SSM parameter name: / then letters, digits, '_', '.', '-' or '/'",
            ),
            ct_grace_hours=read_int(env, "CERTWATCH_CT_GRACE_HOURS", base.ct_grace_hours, 1, 24 * 90),
            domain_sweep_minutes=read_int(env, "CERTWATCH_DOMAIN_SWEEP_MINUTES", base.domain_sweep_minutes, 1, 10080),
            rdap_servers=_rdap_servers(env, "CERTWATCH_RDAP_SERVERS"),
        )


def _with_resources(env: Mapping[str, str], base: Settings) -> Settings:
    """``base`` with the AWS resources' names, ARN and URL given, each as AWS spells it."""
    return replace(
        base,
        table_name=read_text(
            env,
            "CERTWATCH_TABLE",
            base.table_name,
            _TABLE,
            "a DynamoDB table name: 3-255 letters, digits, '_', '-' or '.'",
        ),
        check_queue_name=read_text(
            env,
            "CERTWATCH_CHECK_QUEUE",
            base.check_queue_name,
            _NAME_80,
            "an SQS queue name: 1-80 letters, digits, '-' or '_'",
        ),
        check_queue_url=_optional(
            env,
            "CERTWATCH_CHECK_QUEUE_URL",
            _QUEUE_URL,
            "an SQS queue URL: http(s)://<host>/<12-digit account>/<queue name>",
            f"https://sqs.us-east-1.amazonaws.com/123456789012/{base.check_queue_name}",
        ),
        alone_queue_name=read_text(
            env,
            "CERTWATCH_ALONE_QUEUE",
            base.alone_queue_name,
            _NAME_80,
            "an SQS queue name: 1-80 letters, digits, '-' or '_'",
        ),
        alone_queue_url=_optional(
            env,
            "CERTWATCH_ALONE_QUEUE_URL",
            _QUEUE_URL,
            "an SQS queue URL: http(s)://<host>/<12-digit account>/<queue name>",
            f"https://sqs.us-east-1.amazonaws.com/123456789012/{base.alone_queue_name}",
        ),
        topic_name=read_text(
            env, "CERTWATCH_TOPIC", base.topic_name, _NAME_256, "an SNS topic name: 1-256 letters, digits, '-' or '_'"
        ),
        topic_arn=_optional(
            env,
            "CERTWATCH_TOPIC_ARN",
            _TOPIC_ARN,
            "an SNS topic ARN: arn:<partition>:sns:<region>:<12-digit account>:<topic name>",
            f"arn:aws:sns:us-east-1:123456789012:{base.topic_name}",
        ),
        slack_parameter=read_text(
            env,
            "CERTWATCH_SLACK_PARAMETER",
            base.slack_parameter,
            _PARAMETER,
            "an SSM parameter name: / then letters, digits, '_', '.', '-' or '/'",
        ),
        webhook_path=read_text(
            env,
            "CERTWATCH_WEBHOOK_PATH",
            base.webhook_path,
            _PARAMETER,
            "an SSM parameter path: / then letters, digits, '_', '.', '-' or '/'",
        ),
    )


def named_stage(env: Mapping[str, str] | None = None) -> str:
    """The stage CERTWATCH_STAGE names, as given (checked when the settings are read), else the default's.

    What the operator's ``--stage`` defaults to: read when the command line is, before anything loads.
    """
    env = os.environ if env is None else env
    return env.get("CERTWATCH_STAGE", Settings().stage)


# The local stack's moto server (``make run``): where the operator's ``--local`` commands send AWS requests.
LOCAL_AWS_PORT = 5000


def local_aws_port(env: Mapping[str, str] | None = None) -> int:
    """The port of the local stack's moto server: CERTWATCH_LOCAL_AWS_PORT, else LOCAL_AWS_PORT."""
    return read_int(os.environ if env is None else env, "CERTWATCH_LOCAL_AWS_PORT", LOCAL_AWS_PORT, 1, 65535)


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
# AWS's rules for the names: DynamoDB tables 3-255 of [A-Za-z0-9_.-]; SQS queues 1-80 and SNS topics
# 1-256 of [A-Za-z0-9_-] (a .fifo queue or topic would refuse certwatch's messages, which carry no group).
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_NAME_80 = re.compile(r"[A-Za-z0-9_-]{1,80}")
_NAME_256 = re.compile(r"[A-Za-z0-9_-]{1,256}")
_QUEUE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/\d{12}/[A-Za-z0-9_-]{1,80}")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
_ARI_EXAMPLE = '{"O=Example CA": "https://acme.example.com/directory"}'


def refused(name: str, value: str, allowed: str, example: object, *, secret: bool = False) -> SettingError:
    """The SettingError for ``value``: what is wrong or allowed, then an example of a good value."""
    return SettingError(name, value, f"{allowed}, for example {example}", secret=secret)


def _given(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value is not None and value.strip() else None


def read_text(
    env: Mapping[str, str],
    name: str,
    default: str,
    pattern: re.Pattern[str],
    allowed: str,
    *,
    example: str | None = None,
) -> str:
    """A text setting that must match ``pattern`` in full (the example: the default, unless given)."""
    value = _given(env, name)
    if value is None:
        return default
    if not pattern.fullmatch(value):
        raise refused(name, value, allowed, example or default)
    return value


def _optional(env: Mapping[str, str], name: str, pattern: re.Pattern[str], allowed: str, example: str) -> str | None:
    value = _given(env, name)
    if value is not None and not pattern.fullmatch(value.strip()):
        raise refused(name, value, allowed, example)
    return None if value is None else value.strip()


def read_int(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, *, example: int | None = None
) -> int:
    """A whole-number setting from ``low`` to ``high`` (the example: the default, unless given)."""
    value = _given(env, name)
    if value is None:
        return default
    if not _INT.fullmatch(value.strip()) or not low <= int(value) <= high:
        raise refused(name, value, f"a whole number from {low} to {high}", default if example is None else example)
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
        raise refused(name, value, f"a number of seconds above 0, at most {most:g}", f"{default:g}")
    return seconds


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _given(env, name)
    if value is None:
        return default
    if value.strip().lower() not in ("true", "false"):
        raise refused(name, value, "true or false", str(not default).lower())
    return value.strip().lower() == "true"


def read_switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: on, true, yes, 1 or off, false, no, 0 (any case)."""
    value = _given(env, name)
    if value is None:
        return default
    word = value.strip().lower()
    if word not in _ON | _OFF:
        raise refused(name, value, "on or off (true/false, yes/no, 1/0)", "off" if default else "on")
    return word in _ON


_ON, _OFF = {"on", "true", "yes", "1"}, {"off", "false", "no", "0"}


def read_team_metrics(env: Mapping[str, str], name: str, default: str) -> str:
    """``on``, ``expiry`` or ``off``; on and off also as read_switch reads them (an earlier version's switch)."""
    value = _given(env, name)
    if value is None:
        return default
    word = value.strip().lower()
    if word == "expiry":
        return word
    if word not in _ON | _OFF:
        raise refused(name, value, "on, expiry or off", "on")
    return "on" if word in _ON else "off"


def _powertools_switch(env: Mapping[str, str], name: str) -> bool:
    """One of powertools' own switches: exactly ``true`` (any case) is on, anything else off (never refused)."""
    return env.get(name, "").lower() == "true"


def _networks(env: Mapping[str, str], name: str) -> str:
    # Imported here, as for the other values read with the domain's rules: the CLI reads its command
    # line (named_stage) without loading the domain.
    from chalicelib.domain.addresses import AddressPolicy

    value = _given(env, name) or ""
    for part in value.split(","):
        try:
            AddressPolicy.from_text(part)
        except ValueError:
            raise refused(
                name, value, f"{part.strip()!r} is not a network; comma-separated networks", "10.0.0.0/8,fd00::/8"
            ) from None
    return value


def _base_url(
    env: Mapping[str, str], name: str, *, what: str = "the API's base URL", example: str | None = None
) -> str | None:
    """A base URL (the API's: links in messages are it followed by a path), so it has no query or fragment."""
    value = _given(env, name)
    if value is None:
        return None
    text = value.strip()
    problem: str | None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - urlsplit reads the port only when asked: a bad one raises here
    except ValueError:
        problem = "it cannot be read as a URL (a bad port or address?)"
    else:
        problem = _base_url_problem(parts)
    if problem:
        raise refused(name, value, f"{problem}; {what}, an http:// or https:// URL", example or _PUBLIC_EXAMPLE)
    return text


_PUBLIC_EXAMPLE = "https://certwatch.example.com/api"


def _base_url_problem(parts: SplitResult) -> str | None:
    if parts.scheme.lower() not in ("http", "https"):
        return "it does not start with http:// or https://"
    if not parts.hostname:
        return "it has no host"
    if parts.username is not None or parts.password is not None:
        return "it carries a user name or password"
    if parts.query or parts.fragment:
        return "it has a query or fragment (a link adds a path to it)"
    return None


def _slack_url(env: Mapping[str, str], name: str) -> str | None:
    """A Slack incoming webhook URL: https://, or plain http:// to a receiver on this machine."""
    value = _given(env, name)
    if value is None:
        return None
    from chalicelib.domain.webhooks import local_http_only, parse_url  # loaded only when given: cold starts

    try:
        local_http_only(parse_url(value))
    except InvalidValueError as exc:
        example = "https://hooks.slack.com/services/T000/B000/XXXX"
        raise refused(name, value, f"{exc}; a Slack incoming webhook URL", example, secret=True) from None
    return value.strip()


def _ari_directories(env: Mapping[str, str], name: str) -> str:
    """CERTWATCH_ARI_DIRECTORIES read whole, as the checker will read it, every directory URL included."""
    value = _given(env, name)
    if value is None:
        return ""
    from chalicelib.domain.renewalinfo import directory_table  # cryptography: loaded only when given

    try:
        directory_table(value)
    except ValueError as exc:
        raise refused(name, value, str(exc), _ARI_EXAMPLE) from None
    return value


def _rdap_servers(env: Mapping[str, str], name: str) -> str:
    """CERTWATCH_RDAP_SERVERS read whole, as the domain sweep will read it."""
    value = _given(env, name)
    if value is None:
        return ""
    from chalicelib.domain.rdap import server_table  # loaded only when given: cold starts

    try:
        server_table(value)
    except ValueError as exc:
        raise refused(name, value, str(exc), '{"example": "https://rdap.example.net/"}') from None
    return value


def _regions(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    regions = tuple(r.strip() for r in (_given(env, name) or "").split(",") if r.strip())
    for region in regions:
        if not _REGION.fullmatch(region):
            raise refused(
                name, env[name], f"{region!r} is not an AWS region; comma-separated regions", "us-east-1,eu-west-1"
            )
    return regions


def _team(env: Mapping[str, str], name: str) -> str | None:
    value = _given(env, name)
    if value is None:
        return None
    from chalicelib.domain.tokens import validate_team

    try:
        return validate_team(value)
    except InvalidValueError:
        raise refused(
            name, value, "1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit", "platform"
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
    Settings.from_env(given)  # each as given: a bad CERTWATCH_STAGE is refused though the command names the stage
    return Settings.from_env({**stage_environment(stage), **given, "CERTWATCH_STAGE": stage})
