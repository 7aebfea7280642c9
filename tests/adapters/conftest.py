"""Fixtures for the store tests: every `RunStore` implementation behind one fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sql import SqlStore
from runtime.memory_store import MemoryStore
from runtime.protocols import RunStore


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'runs.db'}"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[RunStore]:
    """Each test that takes `store` runs once per implementation: same suite, same rules."""
    opened: MemoryStore | SqlStore = (
        MemoryStore() if request.param == "memory" else SqlStore(sqlite_url)
    )
    yield opened
    opened.close()
