"""Items of every model in SQLite, read the way DynamoDB reads a table and its indexes.

One table holds every item as a JSON document keyed by (model, id); an insertion sequence
breaks ties between equal index keys. Index reads are key-ordered queries over a hash key
with an optional sort key condition, so sparse indexes (an item whose key attributes are
absent is not in the index) and exclusive-start paging come out of the SQL itself.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (model, id)
)
"""


_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_#]*$")


def _expr(attribute: str) -> str:
    """The SQL reading one attribute; written out literally so SQLite can use an index on it.
    Attribute names come from the schema, and anything else is refused before it gets here."""
    if not _ATTRIBUTE.match(attribute):
        raise ValueError(f"not an attribute name: {attribute!r}")
    return f"json_extract(data, '$.\"{attribute}\"')"


@dataclass(frozen=True)
class KeyCondition:
    """A sort key condition: `op` is eq, lt, le, gt, ge, between or beginsWith."""

    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Position:
    """Where a page stopped: the last item's sort value and insertion sequence."""

    sort_value: Any
    seq: int


class Store:
    """The table behind every model; all access holds `lock` (one writer at a time)."""

    def __init__(self, path: str | None = None) -> None:
        self._db = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self.lock = threading.RLock()
        with self.lock:
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes that land together (a reset, a seed)."""
        with self.lock:
            self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def count(self, model: str | None = None) -> int:
        with self.lock:
            if model is None:
                row = self._db.execute("SELECT COUNT(*) FROM items").fetchone()
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM items WHERE model = ?", (model,)
                ).fetchone()
        return int(row[0])

    def clear(self) -> None:
        with self.lock:
            self._db.execute("DELETE FROM items")

    def get(self, model: str, item_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT data FROM items WHERE model = ? AND id = ?", (model, item_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, model: str, item: dict[str, Any]) -> None:
        """Insert or replace; a replaced item keeps its place among equal keys."""
        data = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        with self.lock:
            self._db.execute(
                "INSERT INTO items (model, id, data) VALUES (?, ?, ?) "
                "ON CONFLICT (model, id) DO UPDATE SET data = excluded.data",
                (model, item["id"], data),
            )

    def delete(self, model: str, item_id: str) -> None:
        with self.lock:
            self._db.execute("DELETE FROM items WHERE model = ? AND id = ?", (model, item_id))

    def all(self, model: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT data FROM items WHERE model = ? ORDER BY seq", (model,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def add_index(self, name: str, hash_key: str, sort_attribute: str | None) -> None:
        """An SQLite index for one GSI, so a query costs the same however big the table."""
        columns = ["model", _expr(hash_key), *([_expr(sort_attribute)] if sort_attribute else [])]
        if not _ATTRIBUTE.match(name):
            raise ValueError(f"not an index name: {name!r}")
        with self.lock:
            self._db.execute(
                f'CREATE INDEX IF NOT EXISTS "gsi_{name}" ON items ({", ".join(columns)})'
            )

    def query(
        self,
        model: str,
        hash_key: str,
        hash_value: Any,
        sort_attribute: str | None,
        condition: KeyCondition | None,
        *,
        forward: bool,
        limit: int,
        after: Position | None,
    ) -> list[tuple[Position, dict[str, Any]]]:
        """Up to `limit` items of one index partition, in key order, after `after`."""
        params: dict[str, Any] = {"model": model, "hash_value": hash_value, "limit": limit}
        sk = _expr(sort_attribute) if sort_attribute else "NULL"
        where = ["model = :model", f"{_expr(hash_key)} = :hash_value"]
        if sort_attribute is not None:
            where.append(f"{sk} IS NOT NULL")
            if condition is not None:
                where.append(_key_clause(sk, condition, params))
        greater = ">" if forward else "<"
        if after is not None:
            params["after_seq"] = after.seq
            if sort_attribute is None:
                where.append(f"seq {greater} :after_seq")
            else:
                params["after_sort"] = after.sort_value
                later = f"{sk} = :after_sort AND seq {greater} :after_seq"
                where.append(f"({sk} {greater} :after_sort OR ({later}))")
        direction = "ASC" if forward else "DESC"
        order = f"{sk} {direction}, seq {direction}" if sort_attribute else f"seq {direction}"
        sql = (
            f"SELECT seq, data, {sk} FROM items WHERE {' AND '.join(where)}"
            f" ORDER BY {order} LIMIT :limit"
        )
        with self.lock:
            rows = self._db.execute(sql, params).fetchall()
        return [(Position(sort, seq), json.loads(data)) for seq, data, sort in rows]

    def scan(self, model: str, *, limit: int, after_id: str | None) -> list[dict[str, Any]]:
        """Up to `limit` items in id order (a stand-in for a table scan's hash order)."""
        with self.lock:
            rows = self._db.execute(
                "SELECT data FROM items WHERE model = ? AND id > ? ORDER BY id LIMIT ?",
                (model, after_id or "", limit),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]


def _key_clause(sk: str, condition: KeyCondition, params: dict[str, Any]) -> str:
    """SQL for a sort key condition on `sk`, binding its operands into `params`."""
    for number, value in enumerate(condition.values):
        params[f"key{number}"] = value
    if condition.op == "between":
        return f"{sk} BETWEEN :key0 AND :key1"
    if condition.op == "beginsWith":
        return f"substr({sk}, 1, length(:key0)) = :key0"
    sql_op = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[condition.op]
    return f"{sk} {sql_op} :key0"
