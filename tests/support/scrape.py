"""A scrape of GET /metrics as Prometheus' own parser reads it, and the questions the tests ask of it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as _openmetrics
from prometheus_client.parser import text_string_to_metric_families as _classic
from prometheus_client.samples import Sample


@dataclass(frozen=True)
class Scrape:
    """The metric families a parser read from one answer."""

    families: list[Metric]

    def samples(self, name: str) -> list[Sample]:
        """Every sample of that name (an info family's samples are named ``<family>_info``)."""
        return [s for family in self.families for s in family.samples if s.name == name]

    def find(self, name: str, **labels: str) -> list[Sample]:
        """The samples of that name whose labels include ``labels``."""
        return [s for s in self.samples(name) if all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The value of the one sample of that name with ``labels`` (fails unless there is exactly one)."""
        found = self.find(name, **labels)
        assert len(found) == 1, (name, labels, found)
        return float(found[0].value)

    def names(self) -> set[str]:
        """Every sample name the answer holds: what a query can name."""
        return {s.name for family in self.families for s in family.samples}

    def target_ids(self) -> set[str]:
        return {s.labels["target_id"] for s in self.samples("certwatch_target_info")}


def read_openmetrics(text: str) -> Scrape:
    """An OpenMetrics answer as the client library's OpenMetrics parser reads it (it refuses what breaks the format)."""
    return Scrape(list(_openmetrics(text)))  # type: ignore[no-untyped-call]


def read_text(text: str) -> Scrape:
    """A classic text format answer as the client library's parser reads it."""
    return Scrape(list(_classic(text)))


# A series name in a PromQL expression: certwatch serves these three families of names only.
_SERIES = re.compile(r"\b(?:probe|ssl|certwatch)_[a-zA-Z0-9_]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL query of a Grafana dashboard: each panel's targets and each query variable's."""
    found = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            found.append(query["query"] if isinstance(query, dict) else query)
    return found


def series_named(query: str) -> set[str]:
    """The series a PromQL query names (label values, in quotes, set aside)."""
    return set(_SERIES.findall(_QUOTED.sub('""', query)))
