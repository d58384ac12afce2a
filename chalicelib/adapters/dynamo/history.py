"""Certificate history: which certificates each endpoint served, and since when (``H#``).

One item per certificate an endpoint ever served, written once (with a condition) when it is
first seen. An endpoint's history is one Query (``H#<target id>#``); a team's, for the
inventory's readiness summary, one Query (``H#``). A renewal adds one small item, so even at
47-day lifetimes an endpoint gains about eight a year.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table, condition_failed, translate
from chalicelib.domain.cadence import Sighting


class HistoryItems(Table):
    """Sightings of certificates per target (``H#``)."""

    def record_sighting(self, team: str, target_id: str, sighting: Sighting) -> bool:
        """Keep ``sighting`` unless this certificate was seen before here; False when it was."""
        item = codec.dump(codec.sighting_item(team, target_id, sighting))
        try:
            self._send(
                self._client.put_item, TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise translate(exc) from exc
        return True

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        """Every certificate the target was seen serving, oldest first."""
        return [s for _, s in self._sightings(team, f"{codec.HISTORY}{target_id}#")]

    def team_sightings(self, team: str) -> dict[str, list[Sighting]]:
        """Every target's sightings in the team, by target id, oldest first."""
        found: dict[str, list[Sighting]] = {}
        for target_id, sighting in self._sightings(team, codec.HISTORY):
            found.setdefault(target_id, []).append(sighting)
        return found

    def _sightings(self, team: str, prefix: str) -> list[tuple[str, Sighting]]:
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": codec.TEAM + team}, ":prefix": {"S": prefix}},
        )
        return sorted(map(codec.sighting, found), key=lambda pair: (pair[1].first_seen, pair[1].fingerprint))
