"""A worker process: executes procedures (and loads procedure files) for the engine.

Started by `runtime.pool.WorkerPool` as `python -m runtime.worker MEMORY_BYTES`, with an
environment that holds no secret of the engine's process. It warms up (imports, the sandbox's
bytecode), then limits itself with the operating system before it takes any work:

- `RLIMIT_AS`: its address space may grow by MEMORY_BYTES past what the warm worker uses, so
  everything a procedure creates, in Lua or in the primitives (a state, a decoded JSON, a
  formatted date), counts; an allocation past it fails with `MemoryError`, which the sandbox
  makes fatal, and the run fails with a clear message;
- `RLIMIT_CPU`: before each job, the CPU time it may still use is set to the job's time limit
  plus a margin, so a worker whose engine died (nobody left to kill it) stops on its own;
- `RLIMIT_CORE` 0: a crash leaves no core file behind.

The engine kills a worker that passes its job's time limit (a hash-collision table store runs
for minutes inside one Lua instruction, where no hook reaches) and replaces it. A worker
that ran close to its memory limit asks to be replaced after its job, so fragmentation
left behind never counts against the next procedure.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any, BinaryIO

from runtime.errors import (
    HitlbotError,
    ProcedureLoadError,
    ProcedureWaitingForHuman,
    format_bytes,
)
from runtime.execution import ExecutionJob, execute
from runtime.lint import lint_procedure
from runtime.loader import load_procedure
from runtime.models import HITLRequest, HITLResponse
from runtime.sandbox import Sandbox, host_memory_exceeded
from runtime.wire import WireError, encode, read_message

CPU_MARGIN_SECONDS = 10
PAGE = os.sysconf("SC_PAGE_SIZE")


def _resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE


def _address_space_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * PAGE


def peak_bytes(pid: int | str = "self") -> int:
    """The process's peak resident memory since it was last reset (0 if unknown)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> None:
    """Start measuring the peak afresh, so each job reports its own (Linux 4.0 and later)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "wb") as refs:
        refs.write(b"5")


class Worker:
    def __init__(self, memory_bytes: int, inbox: BinaryIO, outbox: BinaryIO) -> None:
        self.memory_bytes = memory_bytes
        self.inbox = inbox
        self.outbox = outbox
        self.baseline = 0
        self.retire = False

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        self.outbox.write(encode(header, body))
        self.outbox.flush()

    def receive(self) -> tuple[dict[str, Any], bytes]:
        return read_message(self.inbox)

    def warm_up_and_limit(self) -> None:
        """Pay the start-up costs once, then cap what any job may add."""
        Sandbox()  # compiles and caches the sandbox's own Lua
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        self.baseline = _resident_bytes()
        limit = _address_space_bytes() + self.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def serve(self) -> None:
        self.send({"op": "ready", "pid": os.getpid(), "baseline": self.baseline})
        while not self.retire:
            try:
                header, body = self.receive()
            except WireError:
                return  # the engine is gone, or closed the pool
            op = header["op"]
            _reset_peak()
            if op == "execute":
                self.execute(body)
            elif op == "load":
                text = body.decode("utf-8", "replace") if header.get("text") else None
                self.load(str(header.get("path")), text)
            elif op == "lint":
                self.lint(str(header.get("path")))
            else:
                self.send({"op": "error", "message": f"unknown op {op!r}"})

    # -- jobs -----------------------------------------------------------------------------

    def execute(self, body: bytes) -> None:
        started = time.monotonic()
        try:
            job = ExecutionJob.model_validate_json(body)
            limits = replace(job.limits, process_memory_bytes=self.memory_bytes)
            job = job.model_copy(update={"limits": limits})
            self._limit_cpu(limits.wall_seconds)

            def clock() -> Any:  # the engine's time at dispatch, moving on from there
                return job.now + timedelta(seconds=time.monotonic() - started)

            handler = None if job.known_requests is not None else HostHandler(self)
            result = execute(job, clock, handler).model_dump_json().encode()
        except MemoryError:
            job = result = None  # let go of whatever filled the memory before replying
            self.retire = True
            message = str(host_memory_exceeded(self.memory_bytes))
            self.send({"op": "lost", "message": message, "peak": peak_bytes()})
            return
        self._finish({"op": "result"}, result)

    def load(self, path: str, text: str | None = None) -> None:
        self._limit_cpu(10.0)
        try:
            procedure = load_procedure(path, text)
        except ProcedureLoadError as exc:
            header = {"op": "load_error", "path": exc.path, "message": exc.detail}
            header.update(line=exc.line, field=exc.field)
            self._finish(header)
            return
        except MemoryError:
            self.retire = True
            message = f"loading it used more than {format_bytes(self.memory_bytes)} of memory"
            self.send({"op": "load_error", "path": path, "message": message})
            return
        self._finish({"op": "procedure"}, procedure.model_dump_json().encode())

    def lint(self, path: str) -> None:
        self._limit_cpu(10.0)
        issues = [[i.severity, i.line, i.message] for i in lint_procedure(path)]
        self._finish({"op": "lint"}, json.dumps(issues).encode())

    def _finish(self, header: dict[str, Any], body: bytes = b"") -> None:
        """Reply; a worker that used half its memory budget asks to be replaced."""
        if _resident_bytes() - self.baseline > self.memory_bytes // 2:
            self.retire = True
        self.send({**header, "retire": self.retire, "peak": peak_bytes()}, body)

    @staticmethod
    def _limit_cpu(seconds: float) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = usage.ru_utime + usage.ru_stime
        soft = int(used + seconds + CPU_MARGIN_SECONDS)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class HostHandler:
    """A `HITLHandler` that asks the engine's own handler, across the pipe."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def request_interaction(
        self, procedure_id: str, request: HITLRequest, execution_context: Any = None
    ) -> HITLResponse:
        ctx = execution_context
        position = ctx.next_position()
        header = {
            "op": "call",
            "procedure_id": procedure_id,
            "position": position,
            "request_id": ctx.request_id_at(position),
            "replaying": ctx.is_replaying,
        }
        self.worker.send(header, request.model_dump_json().encode())
        reply, body = self.worker.receive()
        outcome = reply.get("outcome")
        if outcome == "response":
            return HITLResponse.model_validate_json(body)
        if outcome == "waiting":
            for added in json.loads(body or b"[]"):
                ctx.add_request(
                    int(added["position"]), HITLRequest.model_validate(added["request"])
                )
            raise ProcedureWaitingForHuman(procedure_id, str(reply["message_id"]))
        raise HitlbotError(str(reply.get("message") or "the HITL handler failed"))

    def check_pending_response(self, procedure_id: str, message_id: str) -> HITLResponse | None:
        raise HitlbotError("check_pending_response is the engine's, not the worker's")

    def cancel_pending_request(self, procedure_id: str, message_id: str) -> None:
        raise HitlbotError("cancel_pending_request is the engine's, not the worker's")


def main() -> None:
    memory_bytes = int(sys.argv[1])
    inbox, outbox = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write to the pipe the engine reads messages from.
    sys.stdout = sys.stderr
    worker = Worker(memory_bytes, inbox, outbox)
    worker.warm_up_and_limit()
    with contextlib.suppress(BrokenPipeError, WireError):
        worker.serve()


if __name__ == "__main__":
    main()
