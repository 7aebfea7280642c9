"""Where executions happen: in worker processes (`WorkerPool`), or in the caller's thread.

A procedure is untrusted code. The sandbox stops almost everything it can do, but not all of
it: one Lua instruction can run for minutes (a table whose integer keys all collide in Lua's
hash), and memory a primitive allocates in the host is not Lua's to limit. Only a process can
be killed at any moment and held to an OS memory limit, so the engine hands each execution
(and each load of a procedure file, which runs the file's top-level code) to a worker process:

- a job that passes its time limit (plus `grace_seconds`, for the sandbox's own clean stop to
  come first) gets its worker killed and replaced; the run fails with "exceeded its 30 s time
  limit", and nothing of that execution is kept;
- a worker may use `memory_bytes` on top of what it needs idle (see `runtime.worker`); past
  that the run fails with "used more than 256 MiB of memory";
- a worker that crashes (a segfault, the kernel's OOM killer) fails only the run it executed;
- workers hold no secret and no connection of the engine's process: their environment is
  reduced to what Python needs, and they never see the store.

Executing in a worker costs a process hop and the JSON of the job and its result, about a
millisecond on top of the execution itself (see bench/runtime_bench.py). `InlineExecutor`
runs executions in the caller's thread, for tests of the runtime and embedding hosts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from runtime.errors import (
    ExecutionLost,
    HitlbotError,
    ProcedureLoadError,
    ProcedureWaitingForHuman,
    format_bytes,
)
from runtime.execution import ExecutionJob, ExecutionResult, execute
from runtime.lint import LintIssue, lint_procedure
from runtime.loader import load_procedure
from runtime.models import HITLRequest, PendingRequest
from runtime.procedure import Procedure
from runtime.protocols import HITLHandler
from runtime.sandbox import host_memory_exceeded, time_limit_exceeded
from runtime.wire import MAX_BODY, MAX_HEADER, WireError, decode_header, encode, length
from runtime.worker import peak_bytes

log = logging.getLogger("hitlbot.workers")

DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024
# Environment variables a worker keeps: what Python and the C library need, nothing else.
_KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HOME")
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class Executor(Protocol):
    """Runs executions and loads procedure files for an engine."""

    isolated: bool
    """True when executions cannot reach the engine's store (answers travel in the job)."""

    def execute(
        self, job: ExecutionJob, clock: Callable[[], datetime], handler: HITLHandler
    ) -> ExecutionResult: ...

    def _load_death(self, process: _Process) -> str:
        if process.exit_status in (-signal.SIGKILL, -signal.SIGABRT):
            return f"loading it used more than {format_bytes(self.memory_bytes)} of memory"
        return f"loading it stopped the process reading it ({process.how_it_ended()})"

    def load(self, path: str, text: str | None = None) -> Procedure: ...

    def lint(self, path: str) -> list[LintIssue]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Executions in the calling thread: no isolation beyond the sandbox's own limits."""

    isolated = False

    def execute(
        self, job: ExecutionJob, clock: Callable[[], datetime], handler: HITLHandler
    ) -> ExecutionResult:
        return execute(job, clock, handler)

    def load(self, path: str, text: str | None = None) -> Procedure:
        return load_procedure(path, text)

    def lint(self, path: str) -> list[LintIssue]:
        return lint_procedure(path)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class JobReport:
    """How one job went, for benchmarks and logs."""

    op: str
    pid: int
    seconds: float
    peak_bytes: int
    outcome: str  # "ok" | "killed" | "lost"


class _Died(Exception):
    """The worker's pipe closed: it exited, crashed or was killed."""


class _Timeout(Exception):
    pass


class _Process:
    """One worker process and its two pipes."""

    def __init__(self, memory_bytes: int) -> None:
        env = {k: v for k, v in os.environ.items() if k in _KEPT_ENVIRONMENT}
        env["PYTHONPATH"] = _PACKAGE_ROOT
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "runtime.worker", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            start_new_session=True,  # a Ctrl-C in the terminal is the engine's to handle
        )
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.pid = self.popen.pid
        self._in = self.popen.stdin
        self._fd = self.popen.stdout.fileno()
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._buffer = bytearray()
        self.retiring = False
        self.peak_bytes = 0
        self.exit_status: int | None = None

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        try:
            self._in.write(encode(header, body))
            self._in.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise _Died() from None

    def receive(self, deadline: float | None) -> tuple[dict[str, Any], bytes]:
        header = decode_header(self._read(length(self._read(4, deadline), MAX_HEADER), deadline))
        body = bytes(self._read(length(self._read(4, deadline), MAX_BODY), deadline))
        self.retiring = self.retiring or bool(header.get("retire"))
        self.peak_bytes = int(header.get("peak") or self.peak_bytes)
        return header, body

    def _read(self, size: int, deadline: float | None) -> bytes:
        while len(self._buffer) < size:
            wait = None if deadline is None else (deadline - time.monotonic()) * 1000
            if wait is not None and wait <= 0:
                raise _Timeout()
            if not self._poll.poll(wait):
                raise _Timeout()
            chunk = os.read(self._fd, max(1 << 16, size - len(self._buffer)))
            if not chunk:
                raise _Died()
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def kill(self) -> None:
        """Stop it for good and reap it, keeping how it ended and its peak memory."""
        if self.exit_status is not None:
            return
        self.peak_bytes = max(self.peak_bytes, peak_bytes(self.pid))
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.reap()

    def reap(self) -> None:
        if self.exit_status is not None:
            return
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = 0
        self.exit_status = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.exit_status
        for stream in (self.popen.stdin, self.popen.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]

    def how_it_ended(self) -> str:
        status = self.exit_status
        if status is not None and status < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-status).name}"
        return f"exit status {status}"


class _HostCallContext:
    """What a `HITLHandler` may ask of the execution context, for a call from a worker."""

    def __init__(self, run_id: str, procedure_id: str, header: dict[str, Any]) -> None:
        self.run_id = self.current_run_id = run_id
        self.procedure_id = procedure_id
        self.position = int(header["position"])
        self.is_replaying = bool(header.get("replaying"))
        self.added: list[dict[str, Any]] = []
        self._prefix = str(header["request_id"]).rsplit(":pos", 1)[0]

    def next_position(self) -> int:
        return self.position

    def request_id_at(self, position: int) -> str:
        return f"{self._prefix}:pos{position}"

    def add_request(self, position: int, request: HITLRequest) -> PendingRequest:
        self.added.append({"position": position, "request": request.model_dump(mode="json")})
        return PendingRequest(
            request_id=self.request_id_at(position),
            run_id=self.run_id,
            procedure_id=self.procedure_id,
            position=position,
            request=request,
        )


class WorkerPool:
    """`size` worker processes, each executing one job at a time. Thread-safe: callers block
    until a worker is free."""

    isolated = True

    def __init__(
        self,
        size: int = 4,
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        grace_seconds: float = 0.5,
        load_seconds: float = 5.0,
        start_seconds: float = 30.0,
    ) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.size = size
        self.memory_bytes = memory_bytes
        self.grace_seconds = grace_seconds
        self.load_seconds = load_seconds
        self.start_seconds = start_seconds
        self.reports: deque[JobReport] = deque(maxlen=256)
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Process] = []
        self._busy: set[int] = set()
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker now (in parallel), rather than on first use."""
        started = [_Process(self.memory_bytes) for _ in range(self.size)]
        try:
            for process in started:
                self._wait_ready(process)
        except HitlbotError:
            for process in started:
                process.kill()
            raise
        with self._lock:
            self._idle.extend(started)

    def busy_pids(self) -> list[int]:
        """The process ids of the workers executing a job now (for operators' tools)."""
        with self._lock:
            return sorted(self._busy)

    def close(self) -> None:
        """Stop the idle workers; busy ones stop when their job is done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for process in idle:
            process.kill()

    def _spawn(self) -> _Process:
        process = _Process(self.memory_bytes)
        self._wait_ready(process)
        return process

    def _wait_ready(self, process: _Process) -> None:
        deadline = time.monotonic() + self.start_seconds
        try:
            header, _ = process.receive(deadline)
        except (_Died, _Timeout, WireError) as exc:
            process.kill()
            raise HitlbotError(
                f"a worker process did not start ({type(exc).__name__.strip('_').lower()}, "
                f"{process.how_it_ended()}); see the log above for Python's own error"
            ) from None
        if header["op"] != "ready":
            process.kill()
            raise HitlbotError(f"a worker process started with {header['op']!r}, not ready")

    @contextlib.contextmanager
    def _worker(self) -> Any:
        """A worker for one job; it goes back to the pool if the job left it usable."""
        if self._closed:
            raise HitlbotError("the worker pool is closed")
        self._slots.acquire()
        process: _Process | None = None
        try:
            with self._lock:
                process = self._idle.pop() if self._idle else None
            if process is None or process.popen.poll() is not None:
                process = self._spawn()
            with self._lock:
                self._busy.add(process.pid)
            yield process
        finally:
            if process is not None:
                with self._lock:
                    self._busy.discard(process.pid)
            self._give_back(process)
            self._slots.release()

    def _give_back(self, process: _Process | None) -> None:
        if process is None:
            return
        usable = process.exit_status is None and not process.retiring
        with self._lock:
            if usable and not self._closed and len(self._idle) < self.size:
                self._idle.append(process)
                return
        process.kill()
        if not self._closed:  # ready before anyone needs it: no one waits for a start-up
            threading.Thread(target=self._replace, name="worker-start", daemon=True).start()

    def _replace(self) -> None:
        try:
            process = self._spawn()
        except HitlbotError as exc:
            log.warning("%s", exc)  # the next job starts one itself (and reports failure)
            return
        with self._lock:
            if not self._closed and len(self._idle) < self.size:
                self._idle.append(process)
                return
        process.kill()

    # -- jobs ---------------------------------------------------------------------------------

    def execute(
        self, job: ExecutionJob, clock: Callable[[], datetime], handler: HITLHandler
    ) -> ExecutionResult:
        """Run one execution in a worker; `ExecutionLost` when the worker had to be killed or
        died. `clock` is not used: the job carries the time it starts at."""
        body = job.model_dump_json().encode()
        started = time.monotonic()
        deadline = started + job.limits.wall_seconds + self.grace_seconds
        with self._worker() as process:
            outcome = "lost"
            try:
                process.send({"op": "execute"}, body)
                while True:
                    header, reply = process.receive(deadline)
                    if header["op"] == "call":
                        process.send(*_serve_call(handler, job, header, reply))
                        continue
                    if header["op"] == "result":
                        outcome = "ok"
                        return ExecutionResult.model_validate_json(reply)
                    if header["op"] == "lost":
                        raise ExecutionLost(str(header.get("message")))
                    raise WireError(f"unexpected reply {header['op']!r}")
            except _Timeout:
                outcome = "killed"
                process.kill()
                raise ExecutionLost(str(time_limit_exceeded(job.limits.wall_seconds))) from None
            except _Died:
                process.reap()
                raise ExecutionLost(self._death(process, job)) from None
            except (WireError, ValueError) as exc:
                process.kill()
                log.error("worker %s sent a malformed reply: %s", process.pid, exc)
                raise ExecutionLost("the process executing the procedure failed") from None
            except BaseException:
                process.kill()  # interrupted mid-job (Ctrl-C): the worker cannot be reused
                raise
            finally:
                self._report("execute", process, started, outcome)

    def _death(self, process: _Process, job: ExecutionJob) -> str:
        if process.exit_status == -signal.SIGXCPU:
            return str(time_limit_exceeded(job.limits.wall_seconds))
        if process.exit_status in (-signal.SIGKILL, -signal.SIGABRT):
            # Not killed by us: the kernel's OOM killer, or an allocation that failed where
            # only aborting was left (lupa pushing into a full Lua state, a Rust extension).
            return str(host_memory_exceeded(self.memory_bytes))
        return (
            f"the process executing the procedure crashed ({process.how_it_ended()}); "
            "nothing of this execution was kept"
        )

    def _load_death(self, process: _Process) -> str:
        if process.exit_status in (-signal.SIGKILL, -signal.SIGABRT):
            return f"loading it used more than {format_bytes(self.memory_bytes)} of memory"
        return f"loading it stopped the process reading it ({process.how_it_ended()})"

    def load(self, path: str, text: str | None = None) -> Procedure:
        """Read a procedure file in a worker (a `.tac` file runs its top-level code to declare
        itself): a file that never finishes, or fills memory, costs one bounded worker. With
        `text`, that is the file's content (see `runtime.loader.load_procedure`)."""
        header, body = self._file_job("load", path, text)
        if header["op"] == "procedure":
            return Procedure.model_validate_json(body)
        raise ProcedureLoadError(
            str(header.get("path") or path),
            str(header.get("message")),
            line=header.get("line"),
            field=header.get("field"),
        )

    def lint(self, path: str) -> list[LintIssue]:
        """`runtime.lint.lint_procedure`, in a worker, for the same reasons as `load`."""
        try:
            _, body = self._file_job("lint", path)
        except ProcedureLoadError as exc:
            return [LintIssue("error", exc.line, exc.detail)]
        return [LintIssue(severity, line, message) for severity, line, message in json.loads(body)]

    def _file_job(
        self, op: str, path: str, text: str | None = None
    ) -> tuple[dict[str, Any], bytes]:
        started = time.monotonic()
        with self._worker() as process:
            outcome = "lost"
            try:
                header = {"op": op, "path": path, "text": text is not None}
                process.send(header, (text or "").encode())
                header, body = process.receive(started + self.load_seconds)
                outcome = "ok"
            except _Timeout:
                outcome = "killed"
                process.kill()
                raise ProcedureLoadError(
                    path,
                    f"loading it took longer than {self.load_seconds:g} s (its top-level code "
                    "never finished)",
                ) from None
            except _Died:
                process.reap()
                raise ProcedureLoadError(path, self._load_death(process)) from None
            except WireError as exc:
                process.kill()
                log.error("worker %s sent a malformed reply: %s", process.pid, exc)
                raise ProcedureLoadError(path, "the process reading it failed") from None
            finally:
                self._report(op, process, started, outcome)
        return header, body

    def _load_death(self, process: _Process) -> str:
        if process.exit_status in (-signal.SIGKILL, -signal.SIGABRT):
            return f"loading it used more than {format_bytes(self.memory_bytes)} of memory"
        return f"loading it stopped the process reading it ({process.how_it_ended()})"

    def _report(self, op: str, process: _Process, started: float, outcome: str) -> None:
        seconds = time.monotonic() - started
        self.reports.append(JobReport(op, process.pid, seconds, process.peak_bytes, outcome))


def _serve_call(
    handler: HITLHandler, job: ExecutionJob, header: dict[str, Any], body: bytes
) -> tuple[dict[str, Any], bytes]:
    """Ask the engine's handler on behalf of a worker; the reply to send back."""
    run = job.run
    ctx = _HostCallContext(run.run_id, run.procedure_id, header)
    try:
        request = HITLRequest.model_validate_json(body)
        response = handler.request_interaction(run.procedure_id, request, execution_context=ctx)
    except ProcedureWaitingForHuman as waiting:
        reply = {"op": "reply", "outcome": "waiting", "message_id": waiting.pending_message_id}
        return reply, json.dumps(ctx.added).encode()
    except HitlbotError as exc:
        return {"op": "reply", "outcome": "error", "message": str(exc)[:2000]}, b""
    except Exception as exc:  # the host's handler failed: the run fails, the engine goes on
        log.exception("the HITL handler failed for run %s", run.run_id[:8])
        message = f"the HITL handler failed ({type(exc).__name__})"
        return {"op": "reply", "outcome": "error", "message": message}, b""
    return {"op": "reply", "outcome": "response"}, response.model_dump_json().encode()
