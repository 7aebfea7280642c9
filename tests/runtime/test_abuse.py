"""The abuse corpus (abuse_corpus.yaml): procedures that attack the host itself, each stopped by
the limit or quota it names, in a worker process, with nothing else affected."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.engine import Engine
from runtime.memory_store import MemoryStore
from runtime.models import RunStatus
from runtime.pool import WorkerPool
from runtime.sandbox import SandboxLimits
from tests.conftest import make_procedure

CORPUS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "abuse_corpus.yaml").read_text()
)
TIME_LIMIT = 2


@pytest.fixture(scope="module")
def workers() -> Iterator[WorkerPool]:
    pool = WorkerPool(2)
    yield pool
    pool.close()


@pytest.mark.parametrize("attack", CORPUS, ids=[attack["name"] for attack in CORPUS])
def test_each_attack_is_stopped_by_the_limit_it_names(
    attack: dict[str, Any], workers: WorkerPool
) -> None:
    store = MemoryStore()
    engine = Engine(store, executor=workers, limits=SandboxLimits(wall_seconds=TIME_LIMIT))
    outcome = engine.start(make_procedure(attack["code"]))
    assert outcome.run.status is RunStatus.FAILED, outcome.run
    expected = attack["stops"].replace("TIME", str(TIME_LIMIT))
    assert re.search(expected, outcome.run.error or ""), outcome.run.error
    assert engine.start(make_procedure("return 'unaffected'")).run.result == "unaffected"


def test_the_corpus_covers_every_kind_of_limit() -> None:
    stops = " ".join(attack["stops"] for attack in CORPUS)
    for limit in ("state grew", "events", "execution log", "result", "memory", "time limit"):
        assert limit in stops
