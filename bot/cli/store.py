"""Opening the run database the CLI works on.

`--db` takes a file path (the common case, SQLite) or a full SQLAlchemy URL, so the same commands
work against the PostgreSQL database a deployed bot uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import HitlbotError

if TYPE_CHECKING:
    from adapters.sql import SqlStore

DEFAULT_DB = "hitlbot.db"


def database_url(db: str) -> str:
    """`hitlbot.db` -> `sqlite:///hitlbot.db`; a URL is kept as it is."""
    return db if "://" in db else f"sqlite:///{db}"


def is_missing_file(db: str) -> bool:
    """True when `db` names a SQLite file that does not exist yet.

    Reading commands (`resume`, `runs`) check this first: opening would create an empty database
    where the person most likely mistyped a path.
    """
    return "://" not in db and not Path(db).exists()


def open_store(db: str, *, must_exist: bool = False) -> SqlStore:
    if must_exist and is_missing_file(db):
        raise HitlbotError(f"no database at {db} (runs are created by `hitlbot run FILE`)")
    if "://" not in db and Path(db).is_dir():
        raise HitlbotError(f"--db {db} is a directory; name a file such as {db}/hitlbot.db")
    from adapters.sql import SqlStore  # SQLAlchemy loads only for commands that need a database

    return SqlStore(database_url(db))
