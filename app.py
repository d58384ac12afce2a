"""certwatch's front door: the Chalice routes and event handlers, and nothing else."""

from __future__ import annotations

from typing import Any

from chalice.app import AuthRequest, AuthResponse, Chalice, CloudWatchEvent, Rate, Response, SNSEvent, SQSEvent

from chalicelib import __version__
from chalicelib.adapters import telemetry
from chalicelib.deps import container
from chalicelib.domain.inventory import ACM_EVENT_TYPES
from chalicelib.http import api, cbom, dashboard, metrics, openapi, payloads
from chalicelib.presentation import documents as render
from chalicelib.presentation import shapes
from chalicelib.settings import settings_or_exit

app = Chalice(app_name="certwatch")
app.api.binary_types.append(metrics.OPENMETRICS)  # a scrape's OpenMetrics answer travels as bytes (gzip too)
# Event sources are named at deploy time: `CERTWATCH_STAGE=prod chalice deploy --stage prod`.
# A bad setting stops the function's start (and `chalice deploy`) with one line naming it.
SETTINGS = settings_or_exit()
JSON = ["application/json"]


@app.authorizer(ttl_seconds=0)
def token_auth(auth_request: AuthRequest) -> AuthResponse:
    return api.authorize(auth_request.token, container().store)


@app.middleware("all")
def structured_logs(event: Any, get_response: Any) -> Any:
    telemetry.bind(getattr(app, "lambda_context", None))
    return get_response(event)


@app.middleware("http")
def reject_invalid_tokens(event: Any, get_response: Any) -> Any:
    return api.require_valid_token(event.context.get("authorizer")) or get_response(event)


@app.middleware("http")
def chalice_errors_in_error_shape(event: Any, get_response: Any) -> Any:
    return api.in_error_shape(get_response(event), event)


@app.route("/health", methods=["GET"])
@openapi.Operation("Liveness and version", answer=(200, shapes.Health, "Up"))
def health() -> dict[str, Any]:
    return render.health_to_dict(__version__)


@app.route("/openapi.json", methods=["GET"])
@openapi.Operation("This document", answer=(200, openapi.DOCUMENT, "OpenAPI 3.1"))
def openapi_json() -> dict[str, Any]:
    return openapi.openapi_document(app.routes)


# The page holds no data, so it needs no token: it asks for one and sends it with each API call.
@app.route("/dashboard", methods=["GET"])
@openapi.Operation(
    "The inventory page: one HTML document that asks for a token and reads this API with it",
    answer=(200, openapi.PAGE, "The page, with its style and script inline (the CSP admits those two)"),
)
def inventory_page() -> Response:
    return dashboard.response()


@app.route("/targets", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Register a target; its first check runs right after, without waiting",
    body=shapes.TargetInput,
    answer=(201, shapes.Target, "Registered"),
    errors=(409, 422),
)
@api.json_api
def create_target() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    target = container().registry.register(
        api.principal(request),
        payloads.target_spec(payloads.json_document(api.raw_body(request))),
        team=params.get("team"),
    )
    return Response(body=render.target_to_dict(target), status_code=201, headers={"Location": f"/targets/{target.id}"})


@app.route("/targets/bulk", methods=["POST"], authorizer=token_auth, content_types=[*JSON, "text/csv"])
@openapi.Operation(
    f"Register up to {shapes.MAX_BULK_ROWS} targets; one outcome per row (send retry and not_processed again)",
    body=openapi.BULK_TARGETS,
    answer=(200, shapes.BulkOutcomes, "One outcome per row"),
)
@api.json_api
def create_targets() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    rows = payloads.bulk_rows(api.raw_body(request), api.content_type(request))
    outcomes = container().registry.register_bulk(
        api.principal(request), rows, team=params.get("team"), time_left=api.time_left(request)
    )
    return Response(body=render.bulk_outcomes_to_dict(outcomes), status_code=200)


@app.route("/targets", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "List the team's targets with their latest result",
    query=shapes.TargetQuery,
    answer=(200, shapes.TargetPage, "A page of targets"),
)
@api.json_api
def list_targets() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TargetQuery)
    services = container()
    page = services.registry.list_targets(
        api.principal(request),
        where=payloads.target_filter(params, services.clock()),
        limit=payloads.page_limit(params),
        cursor=params.get("cursor"),
        team=params.get("team"),
    )
    return render.target_page_to_dict(page)


@app.route("/targets/{target_id}", methods=["GET"], authorizer=token_auth)
@openapi.Operation("A target and its latest full check result", answer=(200, shapes.TargetWithResult, "The target"))
@api.json_api
def get_target(target_id: str) -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    target, report = container().registry.get(api.principal(request), target_id, team=params.get("team"))
    return render.checked_target_to_dict(target, report)


@app.route("/targets/{target_id}", methods=["PATCH"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Change labels, thresholds, interval, notes, owner, runbook or paused",
    body=shapes.TargetChanges,
    answer=(200, shapes.Target, "Changed"),
)
@api.json_api
def change_target(target_id: str) -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    changes = payloads.target_changes(payloads.json_document(api.raw_body(request)))
    target = container().registry.change(api.principal(request), target_id, changes, team=params.get("team"))
    return render.target_to_dict(target)


@app.route("/targets/{target_id}", methods=["DELETE"], authorizer=token_auth)
@openapi.Operation("Remove a target with its results and alert state", answer=(204, None, "Removed"))
@api.json_api
def delete_target(target_id: str) -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    container().registry.remove(api.principal(request), target_id, team=params.get("team"))
    return Response(body="", status_code=204)


@app.route("/targets/{target_id}/check", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation("Check now; stores and returns the result", answer=(200, shapes.TargetWithResult, "Checked"))
@api.json_api
def check_target(target_id: str) -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    target, report = container().registry.check_now(api.principal(request), target_id, team=params.get("team"))
    return render.checked_target_to_dict(target, report)


@app.schedule(Rate(SETTINGS.sweep_minutes, unit=Rate.MINUTES), name="sweep")
def sweep(event: CloudWatchEvent) -> dict[str, int]:
    result = container().sweeper.sweep()
    telemetry.logger().info("sweep done", extra={"due": result.due, "queued": result.queued})
    counts = {"TargetsDue": result.due, "TargetsQueued": result.queued, "OutboxPublished": result.published}
    domains = container().domain_watch.sweep()
    counts |= {"DomainsSwept": domains.swept, "DomainFailures": domains.failures, "Issuances": domains.new_issuances}
    telemetry.count(counts, enabled=SETTINGS.metrics)
    return {"due": result.due, "queued": result.queued, "published": result.published}


@app.on_sqs_message(
    queue=SETTINGS.check_queue_name,
    batch_size=SETTINGS.checker_batch,
    maximum_batching_window_in_seconds=5,
    maximum_concurrency=SETTINGS.checker_max_concurrency,
    name="checker",
)
def check_batch(event: SQSEvent) -> dict[str, Any]:
    outcome = container().worker.handle(event.to_dict().get("Records", []))
    counts = {
        "Checks": outcome.checked,
        "CheckErrors": outcome.errors,
        "FailedMessages": len(outcome.failed_message_ids),
    }
    telemetry.count(counts, enabled=SETTINGS.metrics)
    telemetry.count_by_severity("EventsPublished", outcome.published_by_severity, enabled=SETTINGS.metrics)
    telemetry.checked(
        SETTINGS.stage, outcome.soonest_days, outcome.statuses, enabled=SETTINGS.metrics, by_team=SETTINGS.team_metrics
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.failed_message_ids]}


@app.on_sqs_message(queue=SETTINGS.alone_queue_name, batch_size=10, name="checker_alone")
def check_alone(event: SQSEvent) -> dict[str, Any]:
    """The checks a batch stopped waiting for, each given its whole timeout (they hold no batch of live ones)."""
    outcome = container().alone_worker.handle(event.to_dict().get("Records", []))
    counts = {"ChecksAlone": outcome.checked, "CheckErrors": outcome.errors}
    telemetry.count(counts, enabled=SETTINGS.metrics)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.failed_message_ids]}


@app.on_sns_message(topic=SETTINGS.topic_name, name="slack")
def post_to_slack(event: SNSEvent) -> None:
    container().slack.deliver(event.message, tally=telemetry.deliveries(SETTINGS.stage, enabled=SETTINGS.metrics))


@app.on_sns_message(topic=SETTINGS.topic_name, name="webhooks")
def post_to_webhooks(event: SNSEvent) -> None:
    report = container().webhooks.deliver(
        event.message, tally=telemetry.deliveries(SETTINGS.stage, enabled=SETTINGS.metrics)
    )
    counts = {"WebhooksDelivered": len(report.delivered), "WebhooksAlreadyDelivered": len(report.already)}
    telemetry.count(counts, enabled=SETTINGS.metrics)


@app.schedule(Rate(SETTINGS.inventory_hours, unit=Rate.HOURS), name="inventory")
def scan_inventory(event: CloudWatchEvent) -> dict[str, Any]:
    result = container().inventory.scan()
    for where, problem in result.failures:
        telemetry.logger().warning("inventory scan incomplete", extra={"where": where, "problem": problem})
    telemetry.count(
        {"ManagedCertificates": result.seen, "InventoryFailures": len(result.failures)}, enabled=SETTINGS.metrics
    )
    return {"seen": result.seen, "removed": result.removed, "published": result.published}


@app.on_cw_event({"source": ["aws.acm"], "detail-type": sorted(ACM_EVENT_TYPES)}, name="acm_events")
def acm_event(event: CloudWatchEvent) -> dict[str, int]:
    return {"published": container().inventory.on_acm_event(event.to_dict())}


@app.route("/settings", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "The team's settings (how its alerts are told)", answer=(200, shapes.TeamSettings, "The team's settings")
)
@api.json_api
def get_team_settings() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    return render.team_settings_to_dict(
        container().registry.team_settings(api.principal(request), team=params.get("team"))
    )


@app.route("/settings", methods=["PATCH"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Change the team's settings; the checkers use them within a minute",
    body=shapes.TeamSettingsChanges,
    answer=(200, shapes.TeamSettings, "Changed"),
)
@api.json_api
def change_team_settings() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    body = payloads.json_document(api.raw_body(request))
    changed = container().registry.change_team_settings(
        api.principal(request), lambda current: payloads.team_settings(body, current), team=params.get("team")
    )
    return render.team_settings_to_dict(changed)


@app.route("/silences", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Silence a target, a certificate, a label or a finding for a while",
    description="Its events are recorded and shown (GET /events), never delivered; docs/alerts.md says what a "
    "silence can and cannot hide.",
    body=shapes.SilenceInput,
    answer=(201, shapes.Silence, "Silenced"),
    errors=(404,),
)
@api.json_api
def create_silence() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services, principal = container(), api.principal(request)
    wanted = payloads.silence_request(payloads.json_document(api.raw_body(request)), services.clock())
    team = services.registry.team_for(principal, params.get("team"))
    silence = services.silencing.silence(principal, team, wanted)
    body = render.silence_to_dict(silence, services.clock())
    return Response(body=body, status_code=201, headers={"Location": f"/silences/{silence.id}"})


@app.route("/silences", methods=["GET"], authorizer=token_auth)
@openapi.Operation("The team's silences (ended ones too)", answer=(200, shapes.SilencePage, "The silences"))
@api.json_api
def list_silences() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    silencing = services.silencing
    return render.silence_page_to_dict(silencing.silences(team), services.clock(), max_days=silencing.max_days)


@app.route("/silences/{silence_id}", methods=["DELETE"], authorizer=token_auth)
@openapi.Operation("End a silence now", answer=(200, shapes.Silence, "Ended"))
@api.json_api
def end_silence(silence_id: str) -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    return render.silence_to_dict(services.silencing.end_silence(team, silence_id), services.clock())


@app.route("/maintenance", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Plan a maintenance window: the team's events quieted for its period",
    body=shapes.MaintenanceInput,
    answer=(201, shapes.MaintenanceWindow, "Planned"),
)
@api.json_api
def create_window() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services, principal = container(), api.principal(request)
    wanted = payloads.window_request(payloads.json_document(api.raw_body(request)), services.clock())
    team = services.registry.team_for(principal, params.get("team"))
    window = services.silencing.window(principal, team, wanted)
    body = render.window_to_dict(window, services.clock())
    return Response(body=body, status_code=201, headers={"Location": f"/maintenance/{window.id}"})


@app.route("/maintenance", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "The team's maintenance windows (past ones too)", answer=(200, shapes.MaintenancePage, "The windows")
)
@api.json_api
def list_windows() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    return render.window_page_to_dict(services.silencing.windows(team), services.clock())


@app.route("/maintenance/{window_id}", methods=["DELETE"], authorizer=token_auth)
@openapi.Operation("End a maintenance window now", answer=(200, shapes.MaintenanceWindow, "Ended"))
@api.json_api
def end_window(window_id: str) -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    return render.window_to_dict(services.silencing.end_window(team, window_id), services.clock())


@app.route("/domains", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Watch a domain in Certificate Transparency, and its registration over RDAP",
    description="Its first sweep is due at once; docs/domains.md says what is fetched from where.",
    body=shapes.DomainInput,
    answer=(201, shapes.WatchedDomain, "Watched"),
    errors=(409,),
)
@api.json_api
def watch_domain() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    wanted = payloads.domain_request(payloads.json_document(api.raw_body(request)))
    team = services.registry.team_for(api.principal(request), params.get("team"))
    domain = services.domain_watch.watch(team, wanted)
    body = render.watched_domain_to_dict(domain, services.clock())
    return Response(body=body, status_code=201, headers={"Location": f"/domains/{domain.id}"})


@app.route("/domains/bulk", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    f"Watch up to {shapes.MAX_BULK_ROWS} domains; one outcome per row (send retry again)",
    body=shapes.DomainRows,
    answer=(200, shapes.DomainBulkOutcomes, "One outcome per row"),
)
@api.json_api
def watch_domains() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    rows = payloads.domain_rows(payloads.json_document(api.raw_body(request)))
    team = services.registry.team_for(api.principal(request), params.get("team"))
    outcomes = services.domain_watch.watch_many(team, rows)
    return Response(body=render.domain_outcomes_to_dict(outcomes, services.clock()), status_code=200)


@app.route("/domains", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "The team's watched domains, each with the names CT shows that no target checks",
    answer=(200, shapes.DomainPage, "By name"),
)
@api.json_api
def list_domains() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    watch = services.domain_watch
    return render.domain_page_to_dict(watch.domains(team), services.clock(), watch.suggest(team))


@app.route("/domains/{domain_id}", methods=["GET"], authorizer=token_auth)
@openapi.Operation("One watched domain", answer=(200, shapes.WatchedDomain, "The domain"))
@api.json_api
def get_domain(domain_id: str) -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    domain = services.domain_watch.get(team, domain_id)
    unwatched = services.domain_watch.suggest(team).get(domain.domain, [])
    return render.watched_domain_to_dict(domain, services.clock(), unwatched)


@app.route("/domains/{domain_id}", methods=["DELETE"], authorizer=token_auth)
@openapi.Operation("Stop watching a domain", answer=(204, None, "No longer watched"))
@api.json_api
def unwatch_domain(domain_id: str) -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    services.domain_watch.remove(team, domain_id)
    return Response(body="", status_code=204)


@app.route("/events", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "The team's recent events: delivered, waiting, or kept quiet by a silence or window",
    query=shapes.EventQuery,
    answer=(200, shapes.EventPage, "Newest first"),
)
@api.json_api
def list_events() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.EventQuery)
    services = container()
    team = services.registry.team_for(api.principal(request), params.get("team"))
    return render.event_page_to_dict(services.silencing.events(team, limit=payloads.page_limit(params)))


@app.route("/certificates", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "Every certificate certwatch knows, one row each, sorted by expiry",
    description="Endpoint certificates of the team (by fingerprint), and certificates held in ACM and IAM (by ARN) "
    "for admin tokens and the team named by CERTWATCH_ACM_TEAM.",
    query=shapes.CertificateQuery,
    answer=(200, shapes.CertificatePage, "A page of certificates"),
)
@api.json_api
def list_certificates() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.CertificateQuery)
    services = container()
    principal = api.principal(request)
    page = services.inventory.rows(
        principal,
        team=services.registry.team_for(principal, params.get("team")),
        query=payloads.inventory_query(params, services.clock()),
        limit=payloads.page_limit(params),
        cursor=params.get("cursor"),
    )
    return render.certificate_page_to_dict(page.items, page.cursor, page.notes, page.readiness)


@app.route("/metrics", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "The team's series for Prometheus (every team's for an admin token without ?team=)",
    description=openapi.METRICS_DESCRIPTION,
    answer=(200, openapi.SERIES, "The series"),
)
@api.json_api
def scrape_metrics() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    return metrics.response(request, container().metrics.watched(api.principal(request), params.get("team")))


@app.route("/cbom", methods=["GET"], authorizer=token_auth)
@openapi.Operation(
    "The team's cryptography as a CycloneDX 1.6 CBOM (every team's for an admin token without ?team=)",
    description=openapi.CBOM_DESCRIPTION,
    answer=(200, openapi.CBOM, "The CBOM (CycloneDX 1.6 JSON, https://cyclonedx.org/schema/bom-1.6.schema.json)"),
)
@api.json_api
def cryptography_bom() -> Response:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    services = container()
    sources = services.cbom.sources(api.principal(request), params.get("team"))
    return cbom.response(sources, services.clock(), __version__)


@app.route("/discover", methods=["POST"], authorizer=token_auth, content_types=JSON)
@openapi.Operation(
    "Find the public endpoints behind the account's certificates (admin tokens)",
    description="ELBv2 HTTPS/TLS listeners, CloudFront aliases, API Gateway custom domain names; "
    'with {"register": true} each is registered as a target (source discovery:...).',
    body=shapes.DiscoverRequest,
    body_required=False,
    answer=(200, shapes.Discovery, "What was found (and registered)"),
)
@api.json_api
def discover() -> dict[str, Any]:
    request = api.current(app)
    params = api.params(request, shapes.TeamQuery)
    register = payloads.discover_request(api.raw_body(request))
    found = container().registry.discover(api.principal(request), register=register, team=params.get("team"))
    return render.discovery_to_dict(found.found, found.outcomes, found.failures)
