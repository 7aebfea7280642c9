"""The one exception type devslack raises for a Slack-visible failure.

Web API handlers turn it into `{"ok": false, "error": ...}` and the control API into an HTTP
400/404, so state code can fail with Slack's own error names without knowing who called it.
"""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A failure Slack would report with `error` (and optional extra response fields)."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """Slack's response body for this error."""
        return {"ok": False, "error": self.error, **self.extra}
