"""The composition root: builds clients, adapters and services lazily, once per warm container.

Nothing here runs at import time (moto must start first, and cold starts stay cheap). Tests
build a Container with the pieces they want to replace, by keyword, and install it with ``use``.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, overload

from chalicelib.domain.clock import utc_now
from chalicelib.settings import Settings

# Each piece imports what it is built from when it is first built: a function imports only what
# its handler uses (the authorizer never loads the checking engine or boto3's other services).
if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.client import BaseClient
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

    from chalicelib.adapters.certificates import AcmSource
    from chalicelib.adapters.certspotter import CertSpotter
    from chalicelib.adapters.discovery import Discoverer
    from chalicelib.adapters.rdap import RdapClient
    from chalicelib.adapters.sqs import SqsCheckQueue
    from chalicelib.adapters.ssm_secrets import SsmSecret
    from chalicelib.adapters.webhook import WebhookPoster
    from chalicelib.checks.engine import CheckEngine
    from chalicelib.checks.fetcher import UrlFetcher
    from chalicelib.checks.resolver import SystemResolver
    from chalicelib.domain.addresses import AddressPolicy
    from chalicelib.domain.truststore import TrustStore
    from chalicelib.services.alerting import Alerter
    from chalicelib.services.cbom import CbomService
    from chalicelib.services.checking import TargetChecker
    from chalicelib.services.domains import DomainWatch
    from chalicelib.services.metrics import MetricsService
    from chalicelib.services.ports import CertificateSource, DeliveryLog, DestinationSource, Publisher, Store
    from chalicelib.services.registry import TargetRegistry
    from chalicelib.services.scanning import InventoryService
    from chalicelib.services.silencing import Silencing
    from chalicelib.services.slack_relay import SlackRelay
    from chalicelib.services.sweeping import Sweeper
    from chalicelib.services.webhooks import WebhookRelay
    from chalicelib.services.worker import CheckWorker


MAX_CONNECTIONS = 64
# The services certwatch calls; each one's client is typed by its stubs package (a development
# requirement only: the imports above run for the type checker, never in Lambda).
Service = Literal[
    "acm",
    "apigateway",
    "apigatewayv2",
    "cloudformation",
    "cloudfront",
    "dynamodb",
    "elbv2",
    "iam",
    "sns",
    "sqs",
    "ssm",
    "sts",
]
SLACK_URL_MAX_AGE = 300  # seconds


class Container:
    """Everything the functions use, built on first use; a keyword argument replaces the piece of its name.

    A piece is any of the Container's public properties and methods (``store``, ``publisher``,
    ``certificate_sources``, ...). A keyword that names none is a TypeError naming it: a misspelt
    replacement never leaves the real piece in place unnoticed.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        session: Session | None = None,
        endpoint_url: str | None = None,
        **pieces: Any,
    ) -> None:
        unknown = sorted(set(pieces) - _PIECES)
        if unknown:
            raise TypeError(_no_such_pieces(unknown))
        self.settings = settings or Settings.from_env()
        self.clock = clock
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[tuple[Service, str | None], BaseClient] = {}
        self._clients_lock = threading.Lock()  # a boto3 session must not build two clients at once
        for name, piece in pieces.items():
            setattr(self, name, piece)  # in the place its cached_property would fill, or over its method

    @overload
    def client(self, service: Literal["acm"], region: str | None = None) -> ACMClient: ...
    @overload
    def client(self, service: Literal["apigateway"], region: str | None = None) -> APIGatewayClient: ...
    @overload
    def client(self, service: Literal["apigatewayv2"], region: str | None = None) -> ApiGatewayV2Client: ...
    @overload
    def client(self, service: Literal["cloudformation"], region: str | None = None) -> CloudFormationClient: ...
    @overload
    def client(self, service: Literal["cloudfront"], region: str | None = None) -> CloudFrontClient: ...
    @overload
    def client(self, service: Literal["dynamodb"], region: str | None = None) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["elbv2"], region: str | None = None) -> ElasticLoadBalancingv2Client: ...
    @overload
    def client(self, service: Literal["iam"], region: str | None = None) -> IAMClient: ...
    @overload
    def client(self, service: Literal["sns"], region: str | None = None) -> SNSClient: ...
    @overload
    def client(self, service: Literal["sqs"], region: str | None = None) -> SQSClient: ...
    @overload
    def client(self, service: Literal["ssm"], region: str | None = None) -> SSMClient: ...
    @overload
    def client(self, service: Literal["sts"], region: str | None = None) -> STSClient: ...
    def client(self, service: Service, region: str | None = None) -> BaseClient:
        """A boto3 client, one per service and region, from this container's session; safe across threads
        (a batch's recorders may ask for one at once), as the clients themselves are."""
        key = (service, region)
        with self._clients_lock:
            if key not in self._clients:
                import boto3

                if self._session is None:
                    self._session = boto3.session.Session()
                from botocore.config import Config

                # Bulk imports, sweeps and a batch's recorders call one client from many threads: a connection each.
                config = Config(max_pool_connections=MAX_CONNECTIONS)
                self._clients[key] = self._session.client(
                    service, region_name=region, endpoint_url=self._endpoint_url, config=config
                )
            return self._clients[key]

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self.client("dynamodb")

    @cached_property
    def sqs(self) -> SQSClient:
        return self.client("sqs")

    @cached_property
    def store(self) -> Store:
        """Every port of the store in one object: each service is handed it as the ports it asks for."""
        from chalicelib.adapters.dynamo import DynamoStore

        return DynamoStore(self.dynamodb, self.settings.table_name)

    @cached_property
    def queue(self) -> SqsCheckQueue:
        return self._check_queue(self.settings.check_queue_name, self.settings.check_queue_url)

    @cached_property
    def alone_queue(self) -> SqsCheckQueue:
        """Where a batch's stragglers go to be checked one by one (the checker_alone function's queue)."""
        return self._check_queue(self.settings.alone_queue_name, self.settings.alone_queue_url)

    def _check_queue(self, name: str, url: str | None) -> SqsCheckQueue:
        """A queue of checks by its URL, else by its name (SQS says its URL)."""
        from chalicelib.adapters.sqs import SqsCheckQueue

        return SqsCheckQueue(self.sqs, url or self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    @cached_property
    def address_policy(self) -> AddressPolicy:
        from chalicelib.domain.addresses import AddressPolicy

        return AddressPolicy.from_text(self.settings.allow_cidrs)

    @cached_property
    def trust(self) -> TrustStore:
        from chalicelib.domain.truststore import load_trust_store

        return load_trust_store()

    @cached_property
    def resolver(self) -> SystemResolver:
        from chalicelib.checks.resolver import SystemResolver
        from chalicelib.services.registry import BULK_THREADS

        # A thread for every lookup a bulk import or a batch of checks has in flight: a lookup
        # queued behind others would spend its timeout waiting.
        return SystemResolver(threads=max(BULK_THREADS, self.settings.check_concurrency))

    @cached_property
    def engine(self) -> CheckEngine:
        from chalicelib.checks.assembly import check_engine

        return check_engine(
            self.settings,
            trust=self.trust,
            resolver=self.resolver,
            clock=self.clock,
            address_policy=self.address_policy,
        )

    @cached_property
    def sns(self) -> SNSClient:
        return self.client("sns")

    @cached_property
    def topic_arn(self) -> str:
        if self.settings.topic_arn:
            return self.settings.topic_arn
        # The topic's name follows the stage; its ARN needs the account, which any caller may ask.
        account = self.client("sts").get_caller_identity()["Account"]
        region = self.sns.meta.region_name
        partition = self.sns.meta.partition
        return f"arn:{partition}:sns:{region}:{account}:{self.settings.topic_name}"

    @cached_property
    def publisher(self) -> Publisher:
        from chalicelib.adapters.sns import SnsPublisher

        return SnsPublisher(self.sns, self.topic_arn, base_url=self.settings.public_url)

    @cached_property
    def alerter(self) -> Alerter:
        from chalicelib.services.alerting import Alerter, AlertSettings

        settings = AlertSettings(
            unreachable_after=self.settings.unreachable_after,
            repeat_critical_hours=self.settings.repeat_critical_hours,
        )
        store = self.store
        return Alerter(
            ledger=store,
            outbox=store,
            silences=store,
            holders=store,
            teams=store,
            publisher=self.publisher,
            clock=self.clock,
            settings=settings,
        )

    @cached_property
    def checker(self) -> TargetChecker:
        return self._target_checker(alone=lambda: self.alone_queue)  # the queue built when stragglers first come

    @cached_property
    def alone_checker(self) -> TargetChecker:
        """The checker of the checks a batch stopped waiting for: each given its whole timeout, no cut."""
        return self._target_checker(alone=None)

    def _target_checker(self, *, alone: Callable[[], SqsCheckQueue] | None) -> TargetChecker:
        from chalicelib.services.checking import TargetChecker

        return TargetChecker(
            self.store,
            self.engine,
            self.trust,
            alerts=self.alerter,
            history=self.store,
            teams=self.store,
            alone=alone,
            issuances=self.store,
            ct_grace=timedelta(hours=self.settings.ct_grace_hours),
        )

    @cached_property
    def sweeper(self) -> Sweeper:
        from chalicelib.services.sweeping import Sweeper

        return Sweeper(self.store, self.queue, self.alerter, self.clock)

    @cached_property
    def worker(self) -> CheckWorker:
        from chalicelib.services.worker import CheckWorker

        return CheckWorker(self.store, self.checker)

    @cached_property
    def alone_worker(self) -> CheckWorker:
        from chalicelib.services.worker import CheckWorker

        return CheckWorker(self.store, self.alone_checker)

    @cached_property
    def ssm(self) -> SSMClient:
        return self.client("ssm")

    def slack_webhook_url(self) -> str | None:
        """The webhook URL: the local stack's variable, else the stage's SSM SecureString."""
        return self.settings.slack_webhook_url or self.slack_secret.value()

    @cached_property
    def slack_secret(self) -> SsmSecret:
        """The stage's Slack webhook URL in SSM, its value and its absence kept 5 minutes (a burst of
        events asks SSM once, not once an event)."""
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        from chalicelib.adapters.ssm_secrets import SsmSecret

        return SsmSecret(SSMProvider(boto3_client=self.ssm), self.settings.slack_parameter, max_age=SLACK_URL_MAX_AGE)

    @cached_property
    def slack(self) -> SlackRelay:
        from chalicelib.adapters.slack import SlackWebhook
        from chalicelib.services.slack_relay import SlackRelay

        return SlackRelay(SlackWebhook(self.slack_webhook_url))

    @cached_property
    def webhook_destinations(self) -> DestinationSource:
        from chalicelib.adapters.destinations import SsmDestinations

        return SsmDestinations(self.ssm, self.settings.webhook_path)

    @cached_property
    def deliveries(self) -> DeliveryLog:
        from chalicelib.adapters.dynamo.deliveries import DynamoDeliveryLog

        return DynamoDeliveryLog(self.dynamodb, self.settings.table_name)

    @cached_property
    def webhook_poster(self) -> WebhookPoster:
        from chalicelib.adapters.webhook import WebhookPoster

        return WebhookPoster(self.resolver.resolve, self.address_policy)

    @cached_property
    def webhooks(self) -> WebhookRelay:
        from chalicelib.services.webhooks import WebhookRelay

        return WebhookRelay(self.webhook_destinations, self.deliveries, self.webhook_poster, self.clock)

    @cached_property
    def silencing(self) -> Silencing:
        from chalicelib.services.silencing import Silencing

        store = self.store
        return Silencing(
            targets=store, silences=store, outbox=store, clock=self.clock, max_days=self.settings.silence_max_days
        )

    @cached_property
    def metrics(self) -> MetricsService:
        from chalicelib.services.metrics import MetricsService

        store = self.store
        return MetricsService(targets=store, results=store, tokens=store, team_for=self.registry.team_for)

    @cached_property
    def cbom(self) -> CbomService:
        from chalicelib.services.cbom import CbomService

        return CbomService(
            self.metrics.watched, self.store, lambda principal: self.inventory.may_see_managed(principal)
        )

    @cached_property
    def registry(self) -> TargetRegistry:
        from chalicelib.services.registry import TargetRegistry

        store = self.store
        return TargetRegistry(
            targets=store,
            results=store,
            teams=store,
            queue=self.queue,
            checker=lambda: self.checker,  # built on first use: it loads the trust store
            resolver=self.resolver,
            address_policy=self.address_policy,
            clock=self.clock,
            finder=lambda: self.discoverer,  # its clients are made when discovery is first asked for
        )

    @cached_property
    def acm_regions(self) -> tuple[str, ...]:
        """Where to look for ACM certificates: CERTWATCH_ACM_REGIONS, else this deployment's region."""
        return self.settings.acm_regions or (str(self.sns.meta.region_name),)

    @cached_property
    def acm_source(self) -> AcmSource:
        """ACM in every region the inventory looks at (its clients made when a scan first asks)."""
        from chalicelib.adapters.certificates import AcmSource

        return AcmSource(lambda region: self.client("acm", region), self.acm_regions)

    @cached_property
    def certificate_sources(self) -> tuple[CertificateSource, ...]:
        """What a scan of the inventory reads: ACM, and IAM unless CERTWATCH_SCAN_IAM is off."""
        from chalicelib.adapters.certificates import IamSource

        if not self.settings.scan_iam:
            return (self.acm_source,)
        return (self.acm_source, IamSource(self.client("iam")))

    @cached_property
    def inventory(self) -> InventoryService:
        from chalicelib.services.scanning import InventoryService

        return InventoryService(
            inventory=self.store,
            targets=self.store,
            alerter=self.alerter,
            clock=self.clock,
            # Asked for when a scan or an ACM event first needs them: the inventory's page never makes their clients.
            sources=lambda: self.certificate_sources,
            acm=lambda: self.acm_source,
            team=self.settings.acm_team,
            history=self.store,
            unwatched=lambda team, now: self.domain_watch.unwatched_rows(team, now),
        )

    @cached_property
    def discoverer(self) -> Discoverer:
        """The account's public endpoints behind its certificates (ELBv2, CloudFront, API Gateway)."""
        from chalicelib.adapters.discovery import Discoverer

        return Discoverer(
            elbv2_for=lambda region: self.client("elbv2", region),
            acm_for=lambda region: self.client("acm", region),
            apigateway_for=lambda region: self.client("apigateway", region),
            apigatewayv2_for=lambda region: self.client("apigatewayv2", region),
            cloudfront=self.client("cloudfront"),
            regions=self.acm_regions,
        )

    @cached_property
    def domain_fetcher(self) -> UrlFetcher:
        """CT and RDAP requests, under the address policy CRL fetches follow."""
        from chalicelib.checks.fetcher import UrlFetcher

        return UrlFetcher(
            resolver=self.resolver, address_policy=self.address_policy, timeout=self.settings.fetch_timeout
        )

    @cached_property
    def ct_key_secret(self) -> SsmSecret:
        """The Cert Spotter API key in SSM (optional: without one, the API's free limits apply)."""
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        from chalicelib.adapters.ssm_secrets import SsmSecret

        return SsmSecret(SSMProvider(boto3_client=self.ssm), self.settings.ct_key_parameter, max_age=SLACK_URL_MAX_AGE)

    @cached_property
    def ct_source(self) -> CertSpotter:
        from chalicelib.adapters.certspotter import CertSpotter

        return CertSpotter(
            self.domain_fetcher, self.settings.ct_url, api_key=self.ct_key_secret.value, clock=self.clock
        )

    @cached_property
    def rdap(self) -> RdapClient:
        from chalicelib.adapters.rdap import RdapClient

        return RdapClient(self.domain_fetcher, servers=self.settings.rdap_servers)

    @cached_property
    def domain_watch(self) -> DomainWatch:
        from chalicelib.services.domains import DomainWatch

        store = self.store
        return DomainWatch(
            domains=store,
            issuances=store,
            targets=store,
            ct=self.ct_source,
            rdap=self.rdap,
            announcer=self.alerter,
            clock=self.clock,
            interval=timedelta(minutes=self.settings.domain_sweep_minutes),
        )


# What a keyword of Container() may replace: its public properties and methods.
_PIECES = frozenset(
    name
    for name, member in vars(Container).items()
    if not name.startswith("_") and (isinstance(member, cached_property) or callable(member))
)


def _no_such_pieces(names: list[str]) -> str:
    """The TypeError's text: each name the Container has no piece of, and the piece it is closest to."""
    described = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(_PIECES), n=1)
        described.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"Container() has no piece named {', '.join(described)}"


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
