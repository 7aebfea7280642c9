"""Shared test fixtures: a controllable clock and procedures built from inline Lua."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime.procedure import FieldSpec, Procedure, ProcedureFormat

REPO = Path(__file__).resolve().parent.parent


class FakeClock:
    """A wall clock that only moves when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_procedure(
    code: str,
    *,
    procedure_id: str = "demo",
    params: dict[str, dict] | None = None,
    outputs: dict[str, dict] | None = None,
    hitl: dict[str, dict] | None = None,
    stages: list[str] | None = None,
) -> Procedure:
    """A Plexus-style procedure whose Lua is `code`, without a file on disk."""
    return Procedure(
        procedure_id=procedure_id,
        name=procedure_id,
        format=ProcedureFormat.PLEXUS_YAML,
        source_path=f"/procedures/{procedure_id}.yaml",
        code=code,
        params={k: FieldSpec(**v) for k, v in (params or {}).items()},
        outputs={k: FieldSpec(**v) for k, v in (outputs or {}).items()},
        hitl=hitl or {},
        stages=stages or [],
    )
