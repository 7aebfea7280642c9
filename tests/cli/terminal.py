"""A real pseudo-terminal for the interactive tests: what a person at a keyboard sees and types.

`pty.fork` makes the terminal the child's controlling terminal, so Ctrl-C typed into it becomes a
real SIGINT and Ctrl-D a real end of input. Output is read as it comes; `expect` waits (with a
deadline) for text to appear, so no test sleeps and hopes.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import time
from collections.abc import Sequence
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\r")
DEADLINE = 30.0
READ_SYSCALLS = {"0", "63"}  # read(2) on x86-64 and on arm64, as /proc/PID/syscall numbers it


class Terminal:
    """One command running in a pseudo-terminal."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the command
            try:
                os.chdir(cwd)
                os.execve(argv[0], list(argv), env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.raw = b""
        self.seen = 0  # how much of `text` earlier expects consumed
        self.status: int | None = None

    @property
    def text(self) -> str:
        """Everything shown so far, without colours and cursor codes."""
        return ANSI.sub("", self.raw.decode("utf-8", errors="replace"))

    def expect(self, wanted: str, timeout: float = DEADLINE) -> str:
        """Wait until `wanted` appears after the previous match; return the text up to it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.text.find(wanted, self.seen)
            if found >= 0:
                before = self.text[self.seen : found]
                self.seen = found + len(wanted)
                return before
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"{wanted!r} never appeared; the terminal shows:\n{self.text}")

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def interrupt(self) -> None:
        """Type Ctrl-C once the command is waiting for the keyboard.

        A SIGINT that lands between printing a prompt and starting to read is noted by Python
        but does not end the read that follows, so the command would wait on; no person types
        within that half millisecond, so the test does not either.
        """
        self._wait_reading()
        os.write(self.fd, b"\x03")

    def _wait_reading(self, timeout: float = DEADLINE) -> None:
        """Wait until the command's main thread is blocked in read() on its terminal (fd 0)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                fields = Path(f"/proc/{self.pid}/syscall").read_text().split()
            except OSError:
                return  # gone, or no /proc: nothing to wait for
            if fields and fields[0] in READ_SYSCALLS and int(fields[1], 16) == 0:
                return
            self._read(0.01)
        raise AssertionError(f"the command never waited for input; it shows:\n{self.text}")

    def end_of_input(self) -> None:
        os.write(self.fd, b"\x04")

    def wait(self, timeout: float = DEADLINE) -> int:
        """Read until the command exits; return its exit status."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            self._read(min(0.2, max(0.0, deadline - time.monotonic())))
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the command did not exit; the terminal shows:\n{self.text}")
        while self._read(0.1):  # whatever it printed last
            pass
        return self.status

    def kill(self) -> None:
        """Stop the command if it still runs and close the terminal; safe to call twice."""
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _read(self, timeout: float) -> bool:
        """Read what is available within `timeout`; False when nothing came (or the end)."""
        if timeout <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)
