"""Loading seed items through the same write rules as a client's create."""

from __future__ import annotations

import json
import uuid
from typing import Any

from graphql import GraphQLEnumType, GraphQLSchema

from devplexus.catalog import Catalog, Model
from devplexus.config import Seed
from devplexus.errors import AppSyncError
from devplexus.scalars import valid_datetime
from devplexus.writes import Writer

_AUTOMATIC = frozenset({"id", "createdAt", "updatedAt"})


def _checked(schema: GraphQLSchema, model: Model, item: dict[str, Any], where: str) -> dict:
    unknown = set(item) - set(model.attributes)
    if unknown:
        raise ValueError(f"{where}: unknown attribute(s) {sorted(unknown)}")
    missing = model.required - _AUTOMATIC - set(item)
    if missing:
        raise ValueError(f"{where}: missing required attribute(s) {sorted(missing)}")
    values = dict(item)
    for name, value in item.items():
        kind = model.attributes[name]
        if value is None:
            continue
        if kind == "AWSJSON":
            values[name] = value if isinstance(value, str) else json.dumps(value)
        elif kind == "AWSDateTime" and not (isinstance(value, str) and valid_datetime(value)):
            raise ValueError(f"{where}: `{name}` is not a valid AWSDateTime: {value!r}")
        elif (
            isinstance(enum := schema.type_map[kind], GraphQLEnumType) and value not in enum.values
        ):
            raise ValueError(f"{where}: `{name}` must be one of {sorted(enum.values)}")
    return values


def apply_seed(schema: GraphQLSchema, catalog: Catalog, writer: Writer, seed: Seed) -> None:
    """Create every seed item; the first bad one stops it with a message naming it."""
    for model_name, items in seed.items():
        if model_name not in catalog.models:
            raise ValueError(f"seed: no model `{model_name}` in the schema")
        model = catalog.models[model_name]
        for number, item in enumerate(items, start=1):
            where = f"seed: {model_name} #{number}"
            try:
                writer.create(model, _checked(schema, model, item, where))
            except AppSyncError as exc:
                raise ValueError(f"{where}: {exc.message}") from None


def ensure_account(catalog: Catalog, writer: Writer, key: str) -> dict[str, Any]:
    """The Account PLEXUS_ACCOUNT_KEY names, created (with a stable id) when missing."""
    model = catalog.models["Account"]
    existing = [a for a in writer.store.all("Account") if a.get("key") == key]
    if existing:
        return existing[0]
    account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"devplexus:account:{key}"))
    return writer.create(model, {"id": account_id, "name": key, "key": key})
