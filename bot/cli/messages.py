"""One-line messages on stderr: the only way the CLI reports errors and notes.

Written straight to `sys.stderr`, not through rich: rich wraps long lines at the terminal width,
and a message that must be one line (for people and for scripts that grep it) must stay one.
"""

from __future__ import annotations

import sys


def one_line(message: str) -> str:
    """Messages that list several problems (one per line) joined for a one-line report."""
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


def error_line(message: str) -> None:
    sys.stderr.write(f"hitlbot: error: {one_line(message)}\n")
    sys.stderr.flush()


def note_line(message: str) -> None:
    sys.stderr.write(f"hitlbot: {one_line(message)}\n")
    sys.stderr.flush()
