"""Opening the database: the engine, SQLite tuning, transactions, and errors people can act on.

SQLite is shared by several processes (CLI runs, bot replicas), so every connection gets WAL
(readers never block the writer), `synchronous=NORMAL` (durable at checkpoints, fast commits)
and a busy timeout (a writer waits for the lock instead of failing). Write transactions start
with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can fail at once with
"database is locked" when another process committed in between, whatever the busy timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    StatementError,
)

from adapters.sql.schema import metadata
from runtime.errors import HitlbotError

BUSY_TIMEOUT_MS = 5_000
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_WRITE = "hitlbot_write"  # execution option marking a transaction that will write


class StorageError(HitlbotError):
    """The database cannot be opened or used. Names the database and what went wrong."""


class Database:
    """An engine plus the two kinds of transaction the store needs."""

    def __init__(self, url: str) -> None:
        self.url = _parse(url)
        backend = self.url.get_backend_name()
        sqlite_file = _sqlite_file(self.url)
        # How messages name the database: its file, or the URL without the password.
        self.name = str(sqlite_file) if sqlite_file else self.url.render_as_string(True)
        if backend not in SUPPORTED_BACKENDS:
            raise StorageError(
                f"database {self.name}: unsupported backend {backend!r} "
                f"(hitlbot supports {', '.join(SUPPORTED_BACKENDS)})"
            )
        self.is_sqlite = backend == "sqlite"
        if sqlite_file:
            _create_directory(sqlite_file.parent, self.name)
        try:
            self.engine = create_engine(
                self.url, json_serializer=partial(json.dumps, ensure_ascii=False)
            )
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"database {self.name}: cannot load its driver: {exc}") from exc
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        try:
            with self.write() as conn:  # one writer at a time: parallel first starts are safe
                metadata.create_all(conn)
        except StorageError:
            self.engine.dispose()
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads: a consistent snapshot that blocks nobody."""
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes: takes the write lock up front on SQLite."""
        with self._transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except IntegrityError:
            raise  # a broken constraint is the caller's business, not an unusable database
        except DBAPIError as exc:
            raise StorageError(f"database {self.name}: {_reason(exc)}") from exc
        except StatementError as exc:
            # A value that is not JSON: raise what `json.dumps` said, as MemoryStore does.
            if isinstance(exc.orig, TypeError | ValueError):
                raise exc.orig from None
            raise

    def close(self) -> None:
        self.engine.dispose()


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"database URL {url!r} is not valid: {exc}") from exc


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for other backends, in-memory and `uri=true` databases."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database).absolute()


def _create_directory(directory: Path, name: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageError(
            f"database {name}: cannot create directory {directory}: {reason}"
        ) from exc


def _reason(exc: DBAPIError) -> str:
    """The driver's own words ("unable to open database file"), without SQL or parameters."""
    reason = str(exc.orig) if exc.orig is not None else str(exc)
    if "unable to open" in reason:
        reason += " (is it a file in an existing, writable directory?)"
    return reason


def _tune_sqlite(engine: Engine) -> None:
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see `_on_sqlite_begin`); the driver's own transaction
    # handling would start write transactions late, in deferred mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
