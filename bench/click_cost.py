"""What one answered click costs in store calls and Slack calls, with N runs waiting.

Run with `python bench/click_cost.py [--waiting 1,100,1000]`. Everything in one process: devslack
without rate limits, a SQLite store in a temporary directory, the bot's `RunService` and
`SlackIO` (pacing off). N runs of a two-approval procedure are started and left waiting in
#general; then bob's Approve on the first run's request is answered the way the click listener
answers it (`RunService.answer`), then its second request, and each click is counted: every
store call, by method, and every Web API call devslack saw, by method; and apart, what
updating the messages a click changes (the answered request's, the run's) costs. None of it
may grow with the number of waiting runs.

Prints one markdown table per measure and exits 1 unless the counts are the same for every N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.sql import SqlStore  # noqa: E402
from bot.approvers import Approvers  # noqa: E402
from bot.catalog import ProcedureCatalog  # noqa: E402
from bot.liveness import Liveness  # noqa: E402
from bot.service import RunService  # noqa: E402
from bot.slack_io import SlackIO, SlackIOConfig  # noqa: E402
from devslack import DevSlack, DevSlackConfig  # noqa: E402
from runtime.engine import Engine  # noqa: E402

ALICE, BOB, GENERAL = "U0ALICE01", "U0BOB0001", "C0GENERAL"
PROCEDURE = """\
name: Two approvals
version: 1.0.0
class: Tactus
params:
  n:
    type: integer
    default: 0
code: |
  local first = Human.approve{message = "First approval for " .. params.n .. "?"}
  local second = Human.approve{message = "Second approval for " .. params.n .. "?"}
  return {first = first, second = second}
"""

#: Set while the service updates a message: the store calls made then are the updates' cost.
UPDATING: contextvars.ContextVar[bool] = contextvars.ContextVar("updating", default=False)


class CountingStore:
    """The store, with every call counted by method (and apart while a message is updated)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()
        self.updating: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if UPDATING.get():
                self.updating[name] += 1
            return attribute(*args, **kwargs)

        return counted

    def reset(self) -> None:
        self.calls.clear()
        self.updating.clear()


async def _slack_calls(session: aiohttp.ClientSession, devslack: DevSlack) -> Counter[str]:
    async with session.get(devslack.base_url + "/_dev/api/stats") as response:
        methods = (await response.json())["methods"]
    return Counter({name: stats["calls"] for name, stats in methods.items()})


def _count_updates(service: RunService, slack_updates: Counter[str]) -> None:
    """Mark the service's message updates (store calls inside them are counted apart)."""
    update: Callable[..., Any] = service.slack.update

    async def counted(*args: Any, **kwargs: Any) -> None:
        token = UPDATING.set(True)
        try:
            slack_updates["update"] += 1
            await update(*args, **kwargs)
        finally:
            UPDATING.reset(token)

    service.slack.update = counted  # type: ignore[method-assign]


#: The two clicks measured: the first approval (the run asks the second), the second (it ends).
CLICKS = ("answer, next request posted", "answer, run completed")


async def measure(waiting: int, workdir: Path) -> dict[str, dict[str, Counter[str]]]:
    devslack = DevSlack(DevSlackConfig(rate_limits=False), clock=time.time)
    await devslack.start()
    store = CountingStore(SqlStore(f"sqlite:///{workdir / f'bot-{waiting}.db'}"))
    procedures = workdir / "procedures"
    procedures.mkdir(exist_ok=True)
    (procedures / "two.yaml").write_text(PROCEDURE)
    client = AsyncWebClient(
        token=devslack.env["SLACK_BOT_TOKEN"], base_url=devslack.env["SLACK_API_URL"]
    )
    liveness = Liveness(store)  # type: ignore[arg-type]
    slack = SlackIO(
        client,
        store,  # type: ignore[arg-type]
        config=SlackIOConfig(pace_per_second=0, updates_per_minute=0),
        liveness=liveness,
    )
    catalog = ProcedureCatalog(procedures)
    service = RunService(
        engine=Engine(store),  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        catalog=catalog,
        slack=slack,
        approvers=Approvers(slack.client),
        liveness=liveness,
    )
    updates: Counter[str] = Counter()
    _count_updates(service, updates)
    try:
        await catalog.refresh()
        procedure = catalog.get("two")
        runs = [
            await service.start_run(procedure, {"n": n}, user=ALICE, channel=GENERAL)
            for n in range(waiting)
        ]
        results: dict[str, dict[str, Counter[str]]] = {}
        async with aiohttp.ClientSession() as session:
            for click in CLICKS:
                [pending] = store.list_requests(run_id=runs[0].run_id, pending_only=True)
                before = await _slack_calls(session, devslack)
                store.reset()
                updates.clear()

                async def notify(text: str) -> None:
                    raise AssertionError(f"the click was refused: {text}")

                assert await service.answer(pending.request_id, True, user=BOB, notify=notify)
                await service.idle()
                results[click] = {
                    "store calls": Counter(store.calls),
                    "Slack calls": await _slack_calls(session, devslack) - before,
                    "store calls updating the messages": Counter(store.updating),
                    "updates asked": Counter(updates),
                }
                assert slack.outbox_size() == 0, "something was left for the outbox"
        return results
    finally:
        service.close()
        await slack.close()
        store.close()
        await devslack.stop()


def _table(title: str, results: dict[int, Counter[str]]) -> str:
    names = sorted({name for counts in results.values() for name in counts})
    head = "| " + title + " | " + " | ".join(f"{n} waiting" for n in results) + " |"
    rule = "|---" * (len(results) + 1) + "|"
    rows = [
        f"| {name} | " + " | ".join(str(c[name]) for c in results.values()) + " |" for name in names
    ]
    total = "| **total** | " + " | ".join(str(sum(c.values())) for c in results.values()) + " |"
    return "\n".join([head, rule, *rows, total])


async def main(waiting: list[int]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        results = {n: await measure(n, Path(tmp)) for n in waiting}
    constant = True
    for click in CLICKS:
        print(f"### {click}\n")
        for name in results[waiting[0]][click]:
            by_waiting = {n: results[n][click][name] for n in waiting}
            print(_table(name, by_waiting) + "\n")
            shapes = {tuple(sorted(counts.items())) for counts in by_waiting.values()}
            constant = constant and len(shapes) == 1
    print("constant in the number of waiting runs:", "yes" if constant else "NO")
    return 0 if constant else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", default="1,100,1000", help="comma-separated run counts")
    args = parser.parse_args()
    sys.exit(asyncio.run(main([int(n) for n in args.waiting.split(",")])))
