from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime.engine import Engine, RunOutcome
from runtime.memory_store import MemoryStore
from runtime.procedure import Procedure
from tests.conftest import FakeClock, make_procedure


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def engine(store: MemoryStore, clock: FakeClock) -> Engine:
    return Engine(store, clock=clock)


class Driver:
    """Drives one procedure through the engine the way the bot and the CLI do."""

    def __init__(self, engine: Engine, procedure: Procedure) -> None:
        self.engine = engine
        self.procedure = procedure

    def start(self, params: dict[str, Any] | None = None, **kwargs: Any) -> RunOutcome:
        return self.engine.start(self.procedure, params or {}, **kwargs)

    def resume(self, outcome: RunOutcome) -> RunOutcome:
        return self.engine.resume(outcome.run.run_id, procedure=self.procedure)

    def answer(self, outcome: RunOutcome, value: Any, responder: str = "U_BOB") -> RunOutcome:
        """Answer the request the run waits on, then resume it: what a click does."""
        assert outcome.pending is not None, f"run is {outcome.run.status}: {outcome.run.error}"
        self.engine.answer(outcome.pending.request_id, value, responder=responder)
        return self.resume(outcome)

    def time_out(self, outcome: RunOutcome) -> RunOutcome:
        assert outcome.pending is not None, f"run is {outcome.run.status}: {outcome.run.error}"
        self.engine.time_out(outcome.pending.request_id)
        return self.resume(outcome)


@pytest.fixture
def lua(engine: Engine) -> Callable[..., Driver]:
    """`lua(code, **procedure_fields)` -> a Driver for an inline procedure."""

    def build(code: str, **fields: Any) -> Driver:
        return Driver(engine, make_procedure(code, **fields))

    return build
