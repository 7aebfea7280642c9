"""Index queries stay cheap as the table grows: each one reads through an SQLite index
built for its GSI instead of scanning every item."""

from __future__ import annotations

from devplexus import DevPlexus
from devplexus.store import KeyCondition, Position


async def test_every_index_query_and_its_paging_use_an_sqlite_index() -> None:
    server = DevPlexus()
    executed: list[str] = []
    server.store._db.set_trace_callback(executed.append)
    indexes = [i for m in server.catalog.models.values() for i in m.indexes]
    assert len(indexes) == 17  # every list<M>By... query of the schema
    for index in indexes:
        condition = KeyCondition("beginsWith", ("2026",)) if index.sort_attribute else None
        for after in (None, Position("2026", 3)):
            server.store.query(
                index.model,
                index.hash_key,
                "value",
                index.sort_attribute,
                condition,
                forward=False,
                limit=20,
                after=after,
            )
    selects = [sql for sql in executed if sql.startswith("SELECT seq, data")]
    assert len(selects) == 2 * len(indexes)
    for sql in selects:
        plan = " ".join(row[3] for row in server.store._db.execute("EXPLAIN QUERY PLAN " + sql))
        assert "USING INDEX gsi_" in plan and "TEMP B-TREE" not in plan, (sql, plan)
    await server.stop()
