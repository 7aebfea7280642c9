"""Items of every model in SQLite, read the way DynamoDB reads a table and its indexes.

One table holds every item as a JSON document keyed by (model, id); an insertion sequence
breaks ties between equal index keys. Index reads are key-ordered queries over a hash key
with an optional sort key condition, so sparse indexes (an item whose key attributes are
absent is not in the index) and exclusive-start paging come out of the SQL itself.
"""

from __future__ import annotations

import json
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


def _path(attribute: str) -> str:
    return '$."' + attribute.replace('"', '""') + '"'


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
        params: dict[str, Any] = {
            "model": model,
            "hash_path": _path(hash_key),
            "hash_value": hash_value,
            "sort_path": _path(sort_attribute or hash_key),
            "limit": limit,
        }
        where = ["hk = :hash_value"]
        if sort_attribute is not None:
            where.append("sk IS NOT NULL")
            if condition is not None:
                where.append(_key_clause(condition, params))
        greater = ">" if forward else "<"
        if after is not None:
            params["after_seq"] = after.seq
            if sort_attribute is None:
                where.append(f"seq {greater} :after_seq")
            else:
                params["after_sort"] = after.sort_value
                where.append(
                    f"(sk {greater} :after_sort OR (sk = :after_sort AND seq {greater} :after_seq))"
                )
        direction = "ASC" if forward else "DESC"
        order = f"sk {direction}, seq {direction}" if sort_attribute else f"seq {direction}"
        sql = (
            "SELECT seq, data, sk FROM (SELECT seq, data,"
            " json_extract(data, :hash_path) AS hk, json_extract(data, :sort_path) AS sk"
            " FROM items WHERE model = :model)"
            f" WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :limit"
        )
        with self.lock:
            rows = self._db.execute(sql, params).fetchall()
        return [(Position(sk, seq), json.loads(data)) for seq, data, sk in rows]

    def scan(self, model: str, *, limit: int, after_id: str | None) -> list[dict[str, Any]]:
        """Up to `limit` items in id order (a stand-in for a table scan's hash order)."""
        with self.lock:
            rows = self._db.execute(
                "SELECT data FROM items WHERE model = ? AND id > ? ORDER BY id LIMIT ?",
                (model, after_id or "", limit),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]


def _key_clause(condition: KeyCondition, params: dict[str, Any]) -> str:
    """SQL for a sort key condition on `sk`, binding its operands into `params`."""
    for number, value in enumerate(condition.values):
        params[f"key{number}"] = value
    if condition.op == "between":
        return "sk BETWEEN :key0 AND :key1"
    if condition.op == "beginsWith":
        return "substr(sk, 1, length(:key0)) = :key0"
    sql_op = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[condition.op]
    return f"sk {sql_op} :key0"
