"""API tokens: each one's hash and team, never the token itself."""

from __future__ import annotations

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.tokens import TokenRecord


class TokenItems(Table):
    """Token records (partition ``TOKEN``, sort key the token id)."""

    def put_token(self, record: TokenRecord) -> None:
        self._call(self._client.put_item, TableName=self._table, Item=codec.dump(codec.token_item(record)))

    def get_token(self, token_id: str) -> TokenRecord | None:
        item = self._get_item(codec.TOKENS, token_id)
        return None if item is None else codec.token(item)

    def list_tokens(self) -> list[TokenRecord]:
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": codec.TOKENS}},
        )
        return sorted(map(codec.token, found), key=lambda r: (r.team, r.created_at))

    def delete_token(self, token_id: str) -> bool:
        answer = self._call(
            self._client.delete_item,
            TableName=self._table,
            Key=codec.dump({"pk": codec.TOKENS, "sk": token_id}),
            ReturnValues="ALL_OLD",
        )
        return bool(answer.get("Attributes"))
