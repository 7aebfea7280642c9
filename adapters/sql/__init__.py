"""SQL storage for runs (SQLite by default, PostgreSQL by URL): `SqlStore` and its errors."""

from adapters.sql.engine import StorageError
from adapters.sql.store import SqlStore

__all__ = ["SqlStore", "StorageError"]
