"""What the schema says about storage: models, their attributes and their indexes.

Everything here is read from the SDL (the Amplify naming rules make it possible), so serving
a larger subset is a matter of editing `schema.graphql`: `get<M>`, `list<M>s`, every
`list<M>By...` index query, `create/update/delete<M>` and the composite sort keys all follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

#: Arguments every list query takes besides its keys.
PAGING_ARGS = frozenset({"sortDirection", "filter", "limit", "nextToken"})
_COMPOSITE_PREFIX = "Model"
_COMPOSITE_SUFFIX = "CompositeKeyConditionInput"


def load_sdl() -> str:
    return resources.files("devplexus").joinpath("schema.graphql").read_text(encoding="utf-8")


def load_schema() -> GraphQLSchema:
    """A fresh schema object (each server instance binds its own resolvers to it)."""
    return build_schema(load_sdl())


def _lower_plural(model: str) -> str:
    return model[0].lower() + model[1:] + "s"


@dataclass(frozen=True)
class Index:
    """A global secondary index as Amplify generates it for `idx(hash).sortKeys([...])`."""

    name: str
    model: str
    hash_key: str
    sort_keys: tuple[str, ...] = ()
    sort_arg: str | None = None  # the query argument carrying the sort key condition
    query: str | None = None  # the Query field serving it

    @property
    def sort_attribute(self) -> str | None:
        """The stored attribute the index sorts on (`a#b` for a composite key)."""
        return "#".join(self.sort_keys) if self.sort_keys else None

    @property
    def composite(self) -> bool:
        return len(self.sort_keys) > 1

    def key_attributes(self) -> list[str]:
        return [self.hash_key, *([self.sort_attribute] if self.sort_attribute else [])]


@dataclass
class Model:
    """One `@model` type: its stored attributes and how they are reached."""

    name: str
    attributes: dict[str, str] = field(default_factory=dict)  # attribute -> named type
    json_attributes: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)
    indexes: list[Index] = field(default_factory=list)

    @property
    def timestamps(self) -> list[str]:
        return [name for name in ("createdAt", "updatedAt") if name in self.attributes]

    def composite_indexes(self) -> list[Index]:
        return [index for index in self.indexes if index.composite]


@dataclass
class Operation:
    """A root field and what it does to which model."""

    field: str
    kind: str  # get | scan | query | create | update | delete
    model: str
    index: Index | None = None


@dataclass
class Catalog:
    models: dict[str, Model]
    operations: dict[str, Operation]

    def model(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise KeyError(f"no model {name!r} in the schema") from None


def _is_model(type_: GraphQLObjectType) -> bool:
    id_field = type_.fields.get("id")
    return id_field is not None and str(id_field.type) == "ID!"


def _model(type_: GraphQLObjectType) -> Model:
    model = Model(type_.name)
    for name, definition in type_.fields.items():
        named = get_named_type(definition.type)
        if isinstance(named, GraphQLObjectType):
            continue  # relations and connections are resolved, not stored
        model.attributes[name] = named.name
        if named.name == "AWSJSON":
            model.json_attributes.add(name)
        if isinstance(definition.type, GraphQLNonNull):
            model.required.add(name)
    return model


def _connection_model(definition: GraphQLField) -> str | None:
    """`Model<M>Connection { items: [M]! }` -> M."""
    connection = get_named_type(definition.type)
    if not isinstance(connection, GraphQLObjectType) or "items" not in connection.fields:
        return None
    return get_named_type(connection.fields["items"].type).name


def _index(model: str, definition: GraphQLField, query: str) -> Index:
    key_args = [name for name in definition.args if name not in PAGING_ARGS]
    hash_key = key_args[0]
    if not isinstance(definition.args[hash_key].type, GraphQLNonNull):
        raise ValueError(f"{query}: the first argument must be the index's non-null hash key")
    if len(key_args) == 1:
        default = f"{_lower_plural(model)}By{hash_key[0].upper()}{hash_key[1:]}"
        return Index(default, model, hash_key, query=query)
    sort_arg = key_args[1]
    sort_type = get_named_type(definition.args[sort_arg].type)
    assert isinstance(sort_type, GraphQLInputObjectType)
    if sort_type.name.endswith(_COMPOSITE_SUFFIX):
        # Model<M><IndexName>CompositeKeyConditionInput: its `eq` input lists the key parts.
        inner = sort_type.fields["eq"].type
        assert isinstance(inner, GraphQLInputObjectType)
        stem = sort_type.name[len(_COMPOSITE_PREFIX) + len(model) : -len(_COMPOSITE_SUFFIX)]
        name = stem[0].lower() + stem[1:]
        return Index(name, model, hash_key, tuple(inner.fields), sort_arg, query)
    parts = [hash_key, sort_arg]
    name = _lower_plural(model) + "By" + "And".join(p[0].upper() + p[1:] for p in parts)
    return Index(name, model, hash_key, (sort_arg,), sort_arg, query)


def build_catalog(schema: GraphQLSchema) -> Catalog:
    models = {
        name: _model(type_)
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType)
        and not name.startswith("__")
        and type_ not in (schema.query_type, schema.mutation_type)
        and _is_model(type_)
    }
    operations: dict[str, Operation] = {}
    assert schema.query_type is not None
    for name, definition in schema.query_type.fields.items():
        returned = get_named_type(definition.type).name
        if name.startswith("get") and returned in models:
            operations[name] = Operation(name, "get", returned)
            continue
        item = _connection_model(definition)
        if item is None or item not in models:
            continue
        if set(definition.args) <= PAGING_ARGS:
            operations[name] = Operation(name, "scan", item)
            continue
        index = _index(item, definition, name)
        models[item].indexes.append(index)
        operations[name] = Operation(name, "query", item, index)
    if schema.mutation_type is not None:
        for name in schema.mutation_type.fields:
            for kind in ("create", "update", "delete"):
                target = name.removeprefix(kind)
                if name.startswith(kind) and target in models:
                    operations[name] = Operation(name, kind, target)
    return Catalog(models, operations)
