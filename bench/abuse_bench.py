"""What stops each abusive procedure, how long it took, and how much memory its worker reached.

Run with `python bench/abuse_bench.py [--time-limit S]`. Every entry of the abuse corpus
(tests/runtime/abuse_corpus.yaml: procedures that once took the bot to gigabytes, filled its
database or held a thread for minutes) is started once, as the bot starts runs: in a worker
process (`runtime.pool.WorkerPool`, 256 MiB) with the bot's default limits and quotas, against
the SQLite store. Prints a table: the limit that stopped it (the run's error), the wall time
from start to the failed run, and the worker's peak resident memory during the job.

Goals: every attack stopped by the limit the corpus names; those stopped by the time limit
within 1 s of it; no worker past its memory limit (256 MiB on top of its idle size).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from adapters.sql import SqlStore
from runtime.engine import Engine
from runtime.pool import WorkerPool
from runtime.procedure import Procedure, ProcedureFormat
from runtime.sandbox import SandboxLimits

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "runtime" / "abuse_corpus.yaml"
MiB = 1024 * 1024


def procedure(name: str, code: str) -> Procedure:
    return Procedure(
        procedure_id=name,
        name=name,
        format=ProcedureFormat.PLEXUS_YAML,
        source_path=f"{name}.yaml",
        code=code,
    )


def attack_row(store: SqlStore, limits: SandboxLimits, attack: dict[str, Any]) -> list[str]:
    """One attack in a fresh worker, so the peak is its own, not what an earlier one left."""
    workers = WorkerPool(1)
    workers.start()
    engine = Engine(store, executor=workers, limits=limits)
    limit = limits.wall_seconds
    started = time.monotonic()
    outcome = engine.start(procedure(attack["name"], attack["code"]))
    took = time.monotonic() - started
    report = workers.reports[-1]
    workers.close()
    error = outcome.run.error or outcome.run.status.value
    expected = attack["stops"].replace("TIME", f"{limit:g}")
    timed = "time limit" in expected
    met = re.search(expected, error) is not None and (not timed or took < limit + 1)
    return [
        attack["name"],
        error,
        f"{took:.2f}",
        f"{took - limit:+.2f}" if timed else "",
        f"{report.peak_bytes / MiB:.0f}",
        "yes" if met else "NO",
    ]


def print_table(rows: list[list[str]]) -> None:
    header = ["attack", "stopped by", "wall s", "past limit s", "worker peak MiB", "met?"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds (default 30)")
    args = parser.parse_args()
    attacks = yaml.safe_load(CORPUS.read_text())
    limits = SandboxLimits(wall_seconds=args.time_limit)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/abuse.db")
        rows = [attack_row(store, limits, attack) for attack in attacks]
        db_bytes = sum(f.stat().st_size for f in Path(tmp).iterdir())
        store.close()
    print_table(rows)
    print(f"\ndatabase after all {len(attacks)} runs: {db_bytes / MiB:.1f} MiB")
    return 0 if all(row[-1] == "yes" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
