"""What has been announced about each target: its alert state."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.alerts import AlertState


class AlertItems(Table):
    """A target's alert state (``A#``), replaced whole after each decision."""

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        item = self._get_item(codec.TEAM + team, codec.ALERTS + target_id)
        return AlertState() if item is None else codec.alert_state(item)

    def get_alert_states(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], AlertState]:
        states = dict.fromkeys(refs, AlertState())
        keys = [(codec.TEAM + team, codec.ALERTS + target_id) for team, target_id in states]
        for item in self._get_items(keys, consistent=True, what="alert states unread"):
            ref = (item["pk"].removeprefix(codec.TEAM), item["sk"].removeprefix(codec.ALERTS))
            states[ref] = codec.alert_state(item)
        return states

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        key = {"pk": codec.TEAM + team, "sk": codec.ALERTS + target_id}
        self._call(self._client.put_item, TableName=self._table, Item=codec.dump(key | codec.alert_state_item(state)))
