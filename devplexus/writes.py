"""The write side: create, update and delete with the rules Amplify's resolvers enforce.

- The server sets `id` (UUIDv4), `createdAt` and `updatedAt` unless the input gives them.
- A composite sort key (ChatMessage's `responseStatus#createdAt`) is written whole or not at
  all, checked on the input merged with those defaults: every create must carry
  `responseStatus`, and an update that sets it must resend `createdAt`.
- Create refuses an existing id, update and delete a missing one, and a `condition` that does
  not hold: all three as DynamoDB's ConditionalCheckFailedException.
- An explicit null removes the attribute on update; on create it is stored as a NULL
  attribute, which DynamoDB refuses for an index key.
- An item may not exceed DynamoDB's 400 KB (why Plexus cuts message content at 300 KB and
  moves big state to S3).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from devplexus.catalog import Model
from devplexus.conditions import matches
from devplexus.errors import (
    composite_key_incomplete,
    conditional_check_failed,
    invalid_parameter,
)
from devplexus.scalars import iso_timestamp
from devplexus.store import Store

Clock = Callable[[], datetime]

#: DynamoDB's item size limit: attribute names plus values, in bytes.
MAX_ITEM_BYTES = 400 * 1024


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item, near enough: UTF-8 names plus JSON-encoded values."""
    return sum(
        len(name.encode()) + len(json.dumps(value, ensure_ascii=False).encode())
        for name, value in item.items()
    )


def _new_id() -> str:
    return str(uuid.uuid4())


class Writer:
    """Applies mutations to the store; callers hold `store.lock` around a whole request."""

    def __init__(self, store: Store, clock: Clock, new_id: Callable[[], str] = _new_id) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id

    # ------------------------------------------------------------------ mutations

    def create(
        self, model: Model, values: dict[str, Any], condition: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        now = iso_timestamp(self.clock())
        merged: dict[str, Any] = {"id": self.new_id(), **dict.fromkeys(model.timestamps, now)}
        merged.update(values)
        self._check_composite_keys(model, merged, "create")
        if merged["id"] is None:
            raise invalid_parameter(
                "One or more parameter values were invalid: "
                "Type mismatch for key id expected: S actual: NULL"
            )
        item = {key: self._stored(model, key, value) for key, value in merged.items()}
        self._write_composite_keys(model, item, merged)
        self._check_index_keys(model, item)
        self._check_size(item)
        with self.store.lock:
            if self.store.get(model.name, item["id"]) is not None or not matches({}, condition):
                raise conditional_check_failed()
            self.store.put(model.name, item)
        return item

    def update(
        self, model: Model, values: dict[str, Any], condition: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        defaults = (
            {"updatedAt": iso_timestamp(self.clock())} if "updatedAt" in model.timestamps else {}
        )
        merged = {**defaults, **values}
        self._check_composite_keys(model, merged, "update")
        with self.store.lock:
            existing = self.store.get(model.name, values["id"])
            if existing is None or not matches(existing, condition):
                raise conditional_check_failed()
            item = dict(existing)
            for key, value in merged.items():
                if key == "id":
                    continue
                if value is None:
                    item.pop(key, None)  # REMOVE: the item leaves that attribute's indexes
                else:
                    item[key] = self._stored(model, key, value)
            self._write_composite_keys(model, item, merged)
            self._check_size(item, "Item size to update")
            self.store.put(model.name, item)
        return item

    def delete(
        self, model: Model, values: dict[str, Any], condition: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        with self.store.lock:
            existing = self.store.get(model.name, values["id"])
            if existing is None or not matches(existing, condition):
                raise conditional_check_failed()
            self.store.delete(model.name, values["id"])
        return existing

    # ------------------------------------------------------------------ rules

    @staticmethod
    def _stored(model: Model, key: str, value: Any) -> Any:
        """AWSJSON arrives as text and is kept parsed, as AppSync keeps a DynamoDB map."""
        if key in model.json_attributes and isinstance(value, str):
            return json.loads(value)
        return value

    @staticmethod
    def _check_composite_keys(model: Model, merged: dict[str, Any], operation: str) -> None:
        for index in model.composite_indexes():
            if not any(key in merged for key in index.sort_keys):
                continue
            for key in index.sort_keys:
                if key not in merged:
                    raise composite_key_incomplete(operation, index.name, key)

    @staticmethod
    def _write_composite_keys(model: Model, item: dict[str, Any], merged: dict[str, Any]) -> None:
        for index in model.composite_indexes():
            attribute = index.sort_attribute
            assert attribute is not None
            if not any(key in merged for key in index.sort_keys):
                continue  # untouched parts keep the stored composite value
            parts = [item.get(key) for key in index.sort_keys]
            if all(part is not None for part in parts):
                item[attribute] = "#".join(str(part) for part in parts)
            else:
                item.pop(attribute, None)

    @staticmethod
    def _check_size(item: dict[str, Any], what: str = "Item size") -> None:
        if item_size(item) > MAX_ITEM_BYTES:
            raise invalid_parameter(f"{what} has exceeded the maximum allowed size")

    @staticmethod
    def _check_index_keys(model: Model, item: dict[str, Any]) -> None:
        for index in model.indexes:
            for attribute in index.key_attributes():
                if attribute in item and item[attribute] is None:
                    expected = "N" if model.attributes.get(attribute) == "Int" else "S"
                    raise invalid_parameter(
                        "One or more parameter values were invalid: Type mismatch for Index Key "
                        f"{attribute} Expected: {expected} Actual: NULL IndexName: {index.name}"
                    )
