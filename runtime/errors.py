"""Exceptions the runtime raises. Each message is written for the person who has to act on it."""

from __future__ import annotations


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
    """A run used more memory, instructions or wall time than its limit allows."""

    def __init__(self, kind: str, limit: str) -> None:
        self.kind = kind
        super().__init__(f"{kind} limit exceeded ({limit})")


class UnknownRunError(HitlbotError):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}")


class AnswerError(HitlbotError):
    """An answer that does not fit its request (wrong type, unknown option, too few choices)."""
