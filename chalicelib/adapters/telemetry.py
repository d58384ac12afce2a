"""Structured logs (powertools Logger) and counts as CloudWatch EMF metrics (powertools Metrics).

Built on first use, not at import (a Logger binds stdout when built). Metrics carry the service
and, for events, the severity: never a per-target dimension.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "certwatch"


# The first logger() and _metrics() are built under it: the local stack's loops ask for them at once from threads of
# their own, and a second Logger built meanwhile swaps the shared handler's formatter under the first one's feet
# (AttributeError: 'Formatter' object has no attribute 'append_keys').
_BUILDING = threading.Lock()


def logger() -> Logger:
    """The JSON logger; chalicelib's standard-library loggers get its handler and format too."""
    with _BUILDING:
        return _logger()


@functools.cache
def _logger() -> Logger:
    built = Logger(service="certwatch")
    copy_config_to_registered_loggers(source_logger=built, include={"chalicelib"})
    return built


def bind(context: Any) -> None:
    """Set up JSON logging for this invocation and tag its lines with the function and request id."""
    keys = {
        "function_name": getattr(context, "function_name", None),
        "request_id": getattr(context, "aws_request_id", None),
    }
    logger().append_keys(**{name: value for name, value in keys.items() if value})


def _metrics() -> Metrics:
    with _BUILDING:
        return _built_metrics()


@functools.cache
def _built_metrics() -> Metrics:
    return Metrics(namespace=NAMESPACE, service="certwatch")


def count(values: Mapping[str, int], *, enabled: bool) -> None:
    """Emit counts for this invocation as one EMF document (nothing when there is nothing to count).

    ``enabled`` is the settings' ``metrics`` (off with POWERTOOLS_METRICS_DISABLED=true).
    """
    present = {name: value for name, value in values.items() if value}
    if not present or not enabled:
        return
    metrics = _metrics()
    for name, value in present.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


def count_by_severity(name: str, severities: Mapping[str, int], *, enabled: bool) -> None:
    """One EMF document per severity, the severity as its only extra dimension (none unless ``enabled``)."""
    if not enabled:
        return
    for severity, value in severities.items():
        if value:
            with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
                metric.add_dimension(name="severity", value=severity)


def measure(
    name: str,
    value: float,
    *dimension_sets: Mapping[str, str],
    enabled: bool,
    unit: MetricUnit = MetricUnit.Count,
) -> None:
    """One EMF document of one value under each dimension set: the first with the service, the others as given.

    CloudWatch keeps the value under every set, so an alarm on a stage alone needs no list of its teams.
    """
    if not enabled or not dimension_sets:
        return
    metrics = _metrics()
    first, *more = dimension_sets
    for key, given in first.items():
        metrics.add_dimension(name=key, value=given)
    for extra in more:
        metrics.add_dimensions(**extra)
    metrics.add_metric(name=name, unit=unit, value=value)
    metrics.flush_metrics()


def checked(
    stage: str,
    soonest_days: Mapping[str, int],
    statuses: Mapping[tuple[str, str], int],
    *,
    enabled: bool,
    by_team: str = "expiry",
) -> None:
    """The checker's figures: the fewest days any checked certificate has left (SoonestExpiryDays), and the checks by
    status (ChecksByStatus), each for the stage, which the stage's alarms read. ``by_team`` (CERTWATCH_TEAM_METRICS)
    says which of them carry each team too: ``on`` both, ``expiry`` SoonestExpiryDays alone (the dashboard's by-team
    widget), ``off`` neither (the teams' taken together)."""
    stage_only = {"service": _SERVICE, "stage": stage}
    if by_team == "off":
        if soonest_days:
            soonest = min(soonest_days.values())
            measure("SoonestExpiryDays", soonest, {"stage": stage}, enabled=enabled, unit=MetricUnit.NoUnit)
    else:
        for team, days in soonest_days.items():
            measure(
                "SoonestExpiryDays",
                days,
                {"stage": stage, "team": team},
                stage_only,
                enabled=enabled,
                unit=MetricUnit.NoUnit,
            )
    if by_team == "on":
        for (team, status), count in statuses.items():
            stage_status = {**stage_only, "status": status}
            measure(
                "ChecksByStatus", count, {"stage": stage, "team": team, "status": status}, stage_status, enabled=enabled
            )
        return
    by_status: Counter[str] = Counter()
    for (_, status), count in statuses.items():
        by_status[status] += count
    for status, count in by_status.items():
        measure("ChecksByStatus", count, {"stage": stage, "status": status}, enabled=enabled)


def deliveries(stage: str, *, enabled: bool) -> Callable[[Mapping[str, int], Mapping[str, int]], None]:
    """What a relay reports its deliveries to: EventsDelivered and EventsFailed by channel, and for the stage alone."""

    def tally(delivered: Mapping[str, int], failed: Mapping[str, int]) -> None:
        for name, counts in (("EventsDelivered", delivered), ("EventsFailed", failed)):
            for channel, count in counts.items():
                if count:
                    stage_only = {"service": _SERVICE, "stage": stage}
                    measure(name, count, {"stage": stage, "channel": channel}, stage_only, enabled=enabled)

    return tally


_SERVICE = "certwatch"  # the service dimension Metrics adds to a document's first set
