"""The composition root: builds clients, adapters and services lazily, once per warm container.

Nothing here runs at import time (moto must start first, and cold starts stay cheap). Tests
build a Container with the pieces they want to replace and install it with ``use``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any

from chalicelib.addresses import AddressPolicy
from chalicelib.checking import TargetChecker
from chalicelib.dynamo import DynamoStore
from chalicelib.engine import CheckEngine, utc_now
from chalicelib.queue import SqsCheckQueue
from chalicelib.registry import TargetRegistry
from chalicelib.resolver import SystemResolver
from chalicelib.settings import Settings
from chalicelib.store import TargetStore
from chalicelib.truststore import TrustStore, load_trust_store


class Container:
    """Everything the functions use, built on first use; ``overrides`` replace any piece by name."""

    def __init__(
        self, settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now, **overrides: Any
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock
        self.__dict__.update(overrides)

    @cached_property
    def dynamodb(self) -> Any:
        import boto3

        return boto3.client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        import boto3

        return boto3.client("sqs")

    @cached_property
    def store(self) -> TargetStore:
        return DynamoStore(self.dynamodb, self.settings.table_name)

    @cached_property
    def queue(self) -> SqsCheckQueue:
        url = self.settings.check_queue_url
        if url is None:
            url = self.sqs.get_queue_url(QueueName=self.settings.check_queue_name)["QueueUrl"]
        return SqsCheckQueue(self.sqs, url)

    @cached_property
    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.from_text(self.settings.allow_cidrs)

    @cached_property
    def trust(self) -> TrustStore:
        return load_trust_store()

    @cached_property
    def resolver(self) -> SystemResolver:
        return SystemResolver()

    @cached_property
    def engine(self) -> CheckEngine:
        return CheckEngine(
            trust=self.trust,
            resolver=self.resolver,
            clock=self.clock,
            timeout=self.settings.check_timeout,
            concurrency=self.settings.check_concurrency,
            address_policy=self.address_policy,
        )

    @cached_property
    def checker(self) -> TargetChecker:
        return TargetChecker(self.store, self.engine, self.trust, self.clock)

    @cached_property
    def registry(self) -> TargetRegistry:
        return TargetRegistry(
            self.store,
            queue=self.queue,
            checker=lambda: self.checker,  # built on first use: loading the trust store costs ~50 ms
            resolver=self.resolver,
            address_policy=self.address_policy,
            clock=self.clock,
        )


_current: Container | None = None


def container() -> Container:
    """The container of this process (a warm Lambda keeps it between invocations)."""
    global _current
    if _current is None:
        _current = Container()
    return _current


def use(replacement: Container | None) -> None:
    """Install a container (tests), or None to build a fresh one from the environment on next use."""
    global _current
    _current = replacement
