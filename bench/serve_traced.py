"""`hitlbot serve` that can report its biggest allocation sites, for bench/bot_bench.py.

Runs exactly `hitlbot serve ARGS...`; with BENCH_TRACEMALLOC=FILE it traces allocations and
appends the top sites to FILE on SIGUSR1.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from typing import Any

from bot.cli import main


def _dump_allocations(signum: int, frame: Any) -> None:
    """SIGUSR1 (with BENCH_TRACEMALLOC=FILE): append the biggest allocation sites to FILE."""
    snapshot = tracemalloc.take_snapshot()
    with open(os.environ["BENCH_TRACEMALLOC"], "a") as out:
        current, peak = tracemalloc.get_traced_memory()
        out.write(f"=== traced {current / 1024:.0f} kB (peak {peak / 1024:.0f} kB)\n")
        for stat in snapshot.statistics("lineno")[:40]:
            out.write(f"{stat}\n")


if __name__ == "__main__":
    if os.environ.get("BENCH_TRACEMALLOC"):
        tracemalloc.start()
        signal.signal(signal.SIGUSR1, _dump_allocations)
    sys.exit(main(["serve", *sys.argv[1:]]))
