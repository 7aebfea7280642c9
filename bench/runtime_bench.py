"""Runtime latency: sandbox start-up, start-and-suspend, and resume after N recorded answers.

Run with `make bench` (or `python bench/runtime_bench.py [--quick]`). Prints a table; README
quotes it. Everything runs against the SQLite store in a temporary directory, as the CLI and the
bot use it, so the numbers include the database work of an execution. Executions are measured
twice: in a worker process (`runtime.pool.WorkerPool`, as the bot and the CLI execute them) and
in the calling thread (`InlineExecutor`), so the cost of the process hop shows.

Goals on a 2-core machine: start-and-suspend under 5 ms; resume after 1000 answers under 50 ms,
both in a worker process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from adapters.sql import SqlStore
from runtime.engine import Engine
from runtime.errors import ProcedureWaitingForHuman
from runtime.models import HITLRequest, HITLResponse
from runtime.pool import Executor, InlineExecutor, WorkerPool
from runtime.primitives import Primitives, install_primitives
from runtime.procedure import Procedure, ProcedureFormat
from runtime.sandbox import Sandbox

LOOP = """
for i = 1, params.n do
  Human.approve{message = "step " .. i, context = {i = i}}
end
local note = Human.input{message = "release note?"}
return Human.approve{message = "ship with " .. note .. "?"}
"""
ONE_REQUEST = 'return Human.approve{message = "Deploy " .. params.service .. "?"}'


def procedure(code: str, name: str) -> Procedure:
    return Procedure(
        procedure_id=name,
        name=name,
        format=ProcedureFormat.PLEXUS_YAML,
        source_path=f"{name}.yaml",
        code=code,
        params={"n": {"type": "integer"}, "service": {"type": "string"}},
    )


class AnswerUpTo:
    """Answers every request at once until position `limit`, then suspends: builds long logs."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def request_interaction(
        self, procedure_id: str, request: HITLRequest, execution_context: Any = None
    ) -> HITLResponse:
        position = execution_context.next_position()
        if position < self.limit:
            return HITLResponse(value=True, responder="bench")
        execution_context.add_request(position, request)
        raise ProcedureWaitingForHuman(procedure_id, execution_context.request_id_at(position))

    def check_pending_response(self, procedure_id: str, message_id: str) -> None:
        return None

    def cancel_pending_request(self, procedure_id: str, message_id: str) -> None:
        return None


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(name: str, samples: list[float], goal: str = "") -> tuple[str, ...]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return (
        name,
        str(len(samples)),
        f"{statistics.median(samples):.2f}",
        f"{p95:.2f}",
        f"{samples[0]:.2f}",
        goal,
    )


def bench_sandbox(repeat: int) -> list[tuple[str, ...]]:
    from runtime.context import ExecutionContext
    from runtime.hitl import StoreHITLHandler
    from runtime.memory_store import MemoryStore
    from runtime.models import RunRecord, utc_now

    proc = procedure("return 1", "noop")
    store = MemoryStore()

    def with_primitives() -> None:
        run = RunRecord(run_id="0" * 32, procedure_id="noop")
        ctx = ExecutionContext(run, [], StoreHITLHandler(store), clock=utc_now)
        install_primitives(Sandbox(), Primitives(ctx, proc))

    return [
        row("sandbox start-up (bare)", timed(Sandbox, repeat)),
        row("sandbox start-up (with primitives)", timed(with_primitives, repeat)),
    ]


WHERE = {WorkerPool: "in a worker", InlineExecutor: "in-thread"}


def bench_start(store: SqlStore, repeat: int, executor: Executor) -> tuple[str, ...]:
    engine = Engine(store, executor=executor)
    proc = procedure(ONE_REQUEST, "deploy")
    isolated = isinstance(executor, WorkerPool)
    return row(
        f"start a run and suspend ({WHERE[type(executor)]})",
        timed(lambda: engine.start(proc, {"service": "api"}), repeat),
        "< 5 ms" if isolated else "",
    )


def bench_resume(store: SqlStore, answers: int, repeat: int, executor: Executor) -> tuple[str, ...]:
    proc = procedure(LOOP, f"loop{answers}")
    builder = Engine(store, hitl_handler=AnswerUpTo(answers))
    engine = Engine(store, executor=executor)
    runs = []
    for _ in range(repeat):
        outcome = builder.start(proc, {"n": answers})
        engine.answer(outcome.pending.request_id, "all good")
        runs.append(outcome.run.run_id)
    samples = []
    for run_id in runs:
        started = time.perf_counter()
        outcome = engine.resume(run_id, procedure=proc)
        samples.append((time.perf_counter() - started) * 1000)
        assert outcome.run.status.value == "WAITING_FOR_HUMAN", outcome.run.error
    isolated = isinstance(executor, WorkerPool)
    return row(
        f"resume after {answers} recorded answers ({WHERE[type(executor)]})",
        samples,
        "< 50 ms" if answers == 1000 and isolated else "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (for CI smoke)")
    args = parser.parse_args()
    repeat = 5 if args.quick else 30
    rows = bench_sandbox(repeat * 10)
    workers = WorkerPool(1)
    workers.start()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/bench.db")
        for executor in (workers, InlineExecutor()):
            engine = Engine(store, executor=executor)
            engine.start(procedure(ONE_REQUEST, "warmup"), {"service": "api"})
            rows.append(bench_start(store, repeat * 5, executor))
            for answers in (1, 10, 100, 1000):
                rows.append(bench_resume(store, answers, repeat, executor))
        store.close()
    workers.close()
    header = ("measure", "n", "p50 ms", "p95 ms", "min ms", "goal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
