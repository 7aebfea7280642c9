"""The executable schema and one GraphQL request run against it, answered as AppSync answers.

Every root field of the schema is bound to the catalog's reader or writer, and every relation
field to RELATIONS: a field left unbound is a start-up error, never a silent null. A request
runs under the store's lock, so a mutation's check-then-write cannot interleave with another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)

from devplexus.catalog import Catalog, Model, Operation, build_catalog, load_schema
from devplexus.errors import AppSyncError, field_error, request_error
from devplexus.reads import RELATIONS, Reader
from devplexus.scalars import install_scalars
from devplexus.store import Store
from devplexus.writes import Writer

log = logging.getLogger(__name__)

Resolver = Callable[..., Any]


def _root_resolver(operation: Operation, model: Model, reader: Reader, writer: Writer) -> Resolver:
    kind = operation.kind
    if kind == "get":
        return lambda _root, _info, **args: reader.get(model, args["id"])
    if kind == "scan":
        return lambda _root, _info, **args: reader.scan(model, args)
    if kind == "query":
        index = operation.index
        assert index is not None
        return lambda _root, _info, **args: reader.query_field(index, args)
    write = {"create": writer.create, "update": writer.update, "delete": writer.delete}[kind]
    return lambda _root, _info, **args: write(model, args["input"], args.get("condition"))


def _relation_resolver(catalog: Catalog, reader: Reader, spec: tuple[str, str, str]) -> Resolver:
    kind, target, attribute = spec
    if kind == "one":
        model = catalog.model(target)

        def belongs_to(parent: dict[str, Any], _info: Any, **_args: Any) -> Any:
            key = parent.get(attribute)
            return reader.get(model, key) if key is not None else None

        return belongs_to
    index = catalog.operations[target].index
    assert index is not None

    def has_many(parent: dict[str, Any], _info: Any, **args: Any) -> Any:
        key = parent.get(attribute)
        if key is None:
            return {"items": [], "nextToken": None}
        return reader.query(index, key, args)

    return has_many


def build_executable_schema(store: Store, writer: Writer) -> tuple[GraphQLSchema, Catalog]:
    schema = load_schema()
    install_scalars(schema)
    catalog = build_catalog(schema)
    for model in catalog.models.values():
        for index in model.indexes:
            store.add_index(index.name, index.hash_key, index.sort_attribute)
    reader = Reader(catalog, store)
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        for name, definition in root.fields.items():
            operation = catalog.operations.get(name)
            if operation is None:
                raise ValueError(f"schema: no resolver for {root.name}.{name}")
            model = catalog.model(operation.model)
            definition.resolve = _root_resolver(operation, model, reader, writer)
    for model_name in catalog.models:
        type_ = schema.type_map[model_name]
        assert isinstance(type_, GraphQLObjectType)
        for name, definition in type_.fields.items():
            if name in catalog.models[model_name].attributes:
                continue
            spec = RELATIONS.get((model_name, name))
            if spec is None:
                raise ValueError(f"schema: no resolver for {model_name}.{name}")
            definition.resolve = _relation_resolver(catalog, reader, spec)
    return schema, catalog


def root_fields(document: DocumentNode, operation_name: str | None) -> tuple[str | None, list[str]]:
    """The operation's name and the root fields it selects (for faults and stats)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        chosen = operations[0] if len(operations) == 1 else None
    else:
        chosen = next(
            (op for op in operations if op.name and op.name.value == operation_name), None
        )
    if chosen is None:
        return operation_name, []
    name = chosen.name.value if chosen.name else None
    fields = [s.name.value for s in chosen.selection_set.selections if hasattr(s, "name")]
    return name, fields


def _field_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if original is not None and not isinstance(original, AppSyncError | GraphQLError):
        # A defect here, not a client mistake: keep the details in our log, not the answer.
        log.error("resolver failed at %s", error.path, exc_info=original)
        return {**field_error(error), "errorType": "InternalFailure", "message": "Internal error"}
    return field_error(error)


class Executor:
    """Runs GraphQL requests; returns AppSync's response body."""

    def __init__(self, schema: GraphQLSchema, store: Store) -> None:
        self.schema = schema
        self.store = store

    def run(
        self, document: DocumentNode, variables: dict[str, Any] | None, operation_name: str | None
    ) -> dict[str, Any]:
        problems = validate(self.schema, document)
        if problems:
            return {"data": None, "errors": [request_error(e) for e in problems]}
        with self.store.lock:
            result = execute(
                self.schema, document, variable_values=variables, operation_name=operation_name
            )
        assert not hasattr(result, "__await__"), "resolvers are synchronous"
        errors = result.errors or []  # type: ignore[union-attr]
        body: dict[str, Any] = {"data": result.data}  # type: ignore[union-attr]
        if errors:
            body["errors"] = [
                _field_error(e) if e.path is not None else request_error(e) for e in errors
            ]
        return body


def parse_document(query: str) -> DocumentNode | GraphQLError:
    try:
        return parse(query)
    except GraphQLSyntaxError as exc:
        return exc
