"""Following the run journal: each view gets every entry once it can take it, in order, from its
own cursor; one process follows at a time; what every view has read is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sql import SqlStore
from bot.journal import JournalFollower, NotNow
from bot.liveness import Liveness
from runtime.models import HITLResponse, JournalEntry, RunRecord, RunStatus


class Notebook:
    """A view that writes down what it is shown, and can be made unavailable."""

    def __init__(self, name: str = "notebook") -> None:
        self.name = name
        self.shown: list[tuple[str, str]] = []
        self.down = False

    async def show(self, entry: JournalEntry) -> None:
        if self.down:
            raise NotNow("the notebook is closed")
        self.shown.append((entry.run_id, entry.kind))


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    store = SqlStore(f"sqlite:///{tmp_path / 'runs.db'}")
    yield store  # type: ignore[misc]
    store.close()


def _a_run(store: SqlStore, run_id: str) -> None:
    run = RunRecord(run_id=run_id, procedure_id="deploy")
    store.create_run(run)
    done = run.model_copy(update={"status": RunStatus.COMPLETED})
    store.commit_execution(done, log_entries=[], state={}, events=[], requests=[])


async def test_a_view_sees_every_entry_in_order_and_catches_up_after_an_outage(store) -> None:
    view = Notebook()
    follower = JournalFollower(store, Liveness(store), [view])
    _a_run(store, "a")
    await follower.follow()
    assert view.shown == [("a", "started"), ("a", "status")]
    view.down = True
    _a_run(store, "b")
    await follower.follow()  # nothing lost while the view is down: its cursor stays put
    view.down = False
    _a_run(store, "c")
    await follower.follow()
    assert view.shown[2:] == [("b", "started"), ("b", "status"), ("c", "started"), ("c", "status")]
    assert store.read_journal(0) == []  # read by every view: forgotten


async def test_a_restarted_follower_goes_on_from_its_cursor(store) -> None:
    first = Notebook()
    await JournalFollower(store, Liveness(store), [first]).follow()
    _a_run(store, "a")
    await JournalFollower(store, Liveness(store), [first]).follow()
    again = Notebook()  # the same view, after a restart of the bot
    _a_run(store, "b")
    # The first process stopped (it no longer beats): its lease is taken over at once.
    await JournalFollower(store, Liveness(store), [again]).follow()
    assert again.shown == [("b", "started"), ("b", "status")]


async def test_one_process_follows_for_a_view_while_it_lives(store) -> None:
    wall = [1000.0]
    first_liveness = Liveness(store, wall_clock=lambda: wall[0])
    second_liveness = Liveness(store, wall_clock=lambda: wall[0])
    first_liveness.beat()
    second_liveness.beat()
    first, second = Notebook(), Notebook()
    _a_run(store, "a")
    await JournalFollower(store, first_liveness, [first]).follow()
    _a_run(store, "b")
    await JournalFollower(store, second_liveness, [second]).follow()
    assert second.shown == []  # the first process holds the lease and still beats
    wall[0] += 60  # it falls silent
    second_liveness.beat()
    await JournalFollower(store, second_liveness, [second]).follow()
    assert second.shown == [("b", "started"), ("b", "status")]


async def test_with_no_view_the_journal_is_not_kept(store) -> None:
    _a_run(store, "a")
    store.record_response("nothing", HITLResponse(value=True))  # no such request: no entry
    await JournalFollower(store, Liveness(store), []).follow()
    assert store.read_journal(0) == []
