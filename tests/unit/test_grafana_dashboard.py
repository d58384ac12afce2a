"""docs/grafana-dashboard.json loads: valid JSON of a Grafana dashboard whose every query names series /metrics serves.

The end-to-end test (tests/e2e/test_metrics_local_stack.py) checks the same names against a
real scrape of the local stack; this one against the catalogue, without a stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.metrics import FAMILIES
from tests.support.scrape import dashboard_queries, series_named

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_it_is_a_dashboard_of_panels_with_unique_ids_and_places(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]

    assert dashboard["title"]
    assert dashboard["uid"]
    assert isinstance(dashboard["schemaVersion"], int)
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["title"], panel
        assert panel["type"], panel
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}, panel
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel


def test_every_query_names_a_series_the_catalogue_serves(dashboard: dict[str, Any]) -> None:
    served = {f.name for f in FAMILIES}
    queries = dashboard_queries(dashboard)

    assert queries
    for query in queries:
        named = series_named(query)
        assert named, f"names no series: {query}"
        assert named <= served, f"{query}: {sorted(named - served)} is not served"


def test_it_shows_the_expiry_timeline_status_counts_findings_and_each_team(dashboard: dict[str, Any]) -> None:
    named = set().union(*(series_named(q) for q in dashboard_queries(dashboard)))
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()

    assert {"certwatch_days_left", "certwatch_target_info", "certwatch_finding", "probe_success"} <= named
    assert all(word in titles for word in ("timeline", "status", "findings", "per team"))
    assert all('team=~"$team"' in q or "by (team)" in q or "label_values" in q for q in dashboard_queries(dashboard))
