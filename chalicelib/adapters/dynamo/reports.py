"""Every latest report of a team in one Query (``R#``): what a scrape of ``GET /metrics`` reads."""

from __future__ import annotations

import json
import logging

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.models import TargetReport

logger = logging.getLogger(__name__)


class ReportItems(Table):
    """The team's latest full reports, by target id."""

    def team_reports(self, team: str) -> dict[str, TargetReport]:
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": codec.TEAM + team}, ":prefix": {"S": codec.RESULT}},
        )
        reports = {}
        for item in found:
            target_id = str(item["sk"]).removeprefix(codec.RESULT)
            try:  # items written before the report had a format of its own hold the API's document
                reports[target_id] = codec.report(json.loads(item["report"] if "report" in item else item["document"]))
            except Exception as exc:  # one unreadable report costs its target's series, never the scrape
                logger.error("the stored report of %s/%s cannot be read: %r", team, target_id, exc)
        return reports
