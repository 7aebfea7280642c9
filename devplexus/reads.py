"""The read side: get by id, scans, index queries and the relation fields of the types."""

from __future__ import annotations

from typing import Any

from devplexus.catalog import Catalog, Index, Model
from devplexus.conditions import matches
from devplexus.paging import (
    decode_token,
    encode_token,
    index_position,
    index_token,
    key_condition,
    page_limit,
)
from devplexus.store import Store

Connection = dict[str, Any]


class Reader:
    """Answers the read operations of every model from the store."""

    def __init__(self, catalog: Catalog, store: Store) -> None:
        self.catalog = catalog
        self.store = store

    def get(self, model: Model, item_id: str) -> dict[str, Any] | None:
        return self.store.get(model.name, item_id)

    def scan(self, model: Model, args: dict[str, Any]) -> Connection:
        """`list<M>s`: a table scan, limit before filter, in the table's (id) order."""
        limit = page_limit(args.get("limit"))
        scope = f"scan:{model.name}"
        start = decode_token(scope, args.get("nextToken"))
        after_id = start.get("id") if start else None
        items = self.store.scan(model.name, limit=limit, after_id=after_id)
        token = encode_token(scope, {"id": items[-1]["id"]}) if len(items) == limit else None
        return {
            "items": [i for i in items if matches(i, args.get("filter"))],
            "nextToken": token,
        }

    def query(self, index: Index, hash_value: Any, args: dict[str, Any]) -> Connection:
        """`list<M>By...`: one partition of an index, in sort key order, limit before filter."""
        limit = page_limit(args.get("limit"))
        scope = f"query:{index.name}:{hash_value!r}"
        rows = self.store.query(
            index.model,
            index.hash_key,
            hash_value,
            index.sort_attribute,
            key_condition(index, args.get(index.sort_arg)) if index.sort_arg else None,
            forward=args.get("sortDirection") != "DESC",
            limit=limit,
            after=index_position(scope, args.get("nextToken")),
        )
        token = index_token(scope, rows[-1][0]) if len(rows) == limit else None
        return {
            "items": [item for _, item in rows if matches(item, args.get("filter"))],
            "nextToken": token,
        }

    def query_field(self, index: Index, args: dict[str, Any]) -> Connection:
        return self.query(index, args[index.hash_key], args)


#: Relation fields of the types: (kind, index query or model, attribute of the parent).
#: A has-many reads the child index whose hash key is the parent's id; a belongs-to gets the
#: item the parent points at.
RELATIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("Procedure", "chatSessions"): ("many", "listChatSessionByProcedureIdAndCreatedAt", "id"),
    ("ChatSession", "messages"): ("many", "listChatMessageBySessionIdAndCreatedAt", "id"),
    ("ChatMessage", "childMessages"): ("many", "listChatMessageByParentMessageId", "id"),
    ("Task", "stages"): ("many", "listTaskStageByTaskId", "id"),
    ("ChatMessage", "session"): ("one", "ChatSession", "sessionId"),
    ("ChatMessage", "parentMessage"): ("one", "ChatMessage", "parentMessageId"),
}
