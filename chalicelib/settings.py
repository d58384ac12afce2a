"""certwatch's configuration: one Settings object, read from the environment in one place.

Stage values live in ``.chalice/config.json`` (environment_variables); names of AWS resources
follow the stage (``certwatch-<stage>`` ...) unless a variable names them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str = "dev"
    table_name: str = "certwatch-dev"
    check_queue_name: str = "certwatch-dev-checks"
    check_queue_url: str | None = None
    allow_cidrs: str = ""
    check_timeout: float = 10.0
    check_concurrency: int = 32

    @classmethod
    def for_stage(cls, stage: str, **overrides: object) -> Settings:
        names = {"table_name": f"certwatch-{stage}", "check_queue_name": f"certwatch-{stage}-checks"}
        return cls(stage=stage, **{**names, **overrides})  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        stage = env.get("CERTWATCH_STAGE", "dev")
        base = cls.for_stage(stage)
        return cls(
            stage=stage,
            table_name=env.get("CERTWATCH_TABLE", base.table_name),
            check_queue_name=env.get("CERTWATCH_CHECK_QUEUE", base.check_queue_name),
            check_queue_url=env.get("CERTWATCH_CHECK_QUEUE_URL") or None,
            allow_cidrs=env.get("CERTWATCH_ALLOW_CIDRS", ""),
            check_timeout=float(env.get("CERTWATCH_CHECK_TIMEOUT", "10")),
            check_concurrency=int(env.get("CERTWATCH_CHECK_CONCURRENCY", "32")),
        )
