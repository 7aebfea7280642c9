"""Exceptions the runtime raises. Each message is written for the person who has to act on it."""

from __future__ import annotations


def format_bytes(size: int) -> str:
    """A size as people write it in messages: 64 MiB, 512 KiB, 300 bytes."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size} bytes"


class ProcedureWaitingForHuman(Exception):  # Tactus's name, kept for compatibility
    """Raised to exit a run that needs an answer. Never catchable from Lua (see sandbox)."""

    def __init__(self, procedure_id: str, pending_message_id: str) -> None:
        self.procedure_id = procedure_id
        self.pending_message_id = pending_message_id
        super().__init__(
            f"Procedure {procedure_id} waiting for human response to message {pending_message_id}"
        )


class HitlbotError(Exception):
    """Base of the errors a user can cause and must be told about in one line."""


class ProcedureLoadError(HitlbotError):
    """A procedure file cannot be read or is invalid. Names the file, line and field."""

    def __init__(
        self, path: str, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.detail = message
        where = path if line is None else f"{path}:{line}"
        what = f"{field}: {message}" if field else message
        super().__init__(f"{where}: {what}")


class ParamError(HitlbotError):
    """Parameters or outputs that do not match the procedure's schema."""


class ReplayDivergenceError(HitlbotError):
    """The procedure made a different call at a recorded position than it did before."""

    def __init__(self, position: int, recorded: str, current: str) -> None:
        self.position = position
        self.recorded = recorded
        self.current = current
        super().__init__(
            f"replay diverged at position {position}: the log recorded {recorded}, "
            f"but the procedure now calls {current} (was the file edited mid-run?)"
        )


class SandboxError(HitlbotError):
    """Lua code failed: a runtime error, a syntax error, or a forbidden operation."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


class LimitExceeded(SandboxError):
    """An execution went past one of its limits: memory, instructions or time.

    `kind` names the limit ("memory", "instructions", "time"); the message says what happened
    in the words of the person who reads the failed run, with the limit's value.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class QuotaExceeded(HitlbotError):
    """A run tried to store more than one of its quotas allows (state, events, log, result).

    Fatal like a limit: a procedure must not catch it and carry on storing.
    """

    def __init__(self, quota: str, message: str) -> None:
        self.quota = quota
        super().__init__(message)


class ExecutionLost(HitlbotError):
    """The process executing a procedure was killed or died: past its time or memory limit, or
    crashed. Nothing of that execution was kept."""


class UnknownRunError(HitlbotError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}")


class AnswerError(HitlbotError):
    """An answer that does not fit its request (wrong type, unknown option, too few choices)."""
