"""What has been announced about each target: its alert state."""

from __future__ import annotations

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.alerts import AlertState


class AlertItems(Table):
    """A target's alert state (``A#``), replaced whole after each decision."""

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        item = self._get_item(codec.TEAM + team, codec.ALERTS + target_id)
        return AlertState() if item is None else codec.alert_state(item)

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        key = {"pk": codec.TEAM + team, "sk": codec.ALERTS + target_id}
        self._call(self._client.put_item, TableName=self._table, Item=codec.dump(key | codec.alert_state_item(state)))
