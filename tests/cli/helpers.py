"""Helpers to run the real `hitlbot` command in subprocesses, the way people and scripts do.

Nothing is imported from `bot.cli` and nothing is mocked: every test goes through argument
parsing, the loader, the engine, the SQLite file and the process exit status. The console script
next to the interpreter is preferred; `python -m bot.cli` is the same entry point when the
script is not installed there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO

EXAMPLES = REPO / "examples"
ANSWERS = EXAMPLES / "answers"
SCRIPT = Path(sys.executable).with_name("hitlbot")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
TIMEOUT = 60


def cli_env(**extra: str) -> dict[str, str]:
    """A predictable environment: wide lines, no colour, no editor, no debug tracebacks."""
    env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR", "HITLBOT_DEBUG")}
    env.update({"COLUMNS": "120", "NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout must be exactly one JSON document (`json.loads` refuses anything more)."""
        return json.loads(self.stdout)

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_cli(
    *args: str | Path, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """One `hitlbot` process; stdin is empty (not a terminal) unless text is given."""
    completed = subprocess.run(
        [*COMMAND, *map(str, args)],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=TIMEOUT,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


class Cli:
    """`hitlbot` bound to a scratch directory and its database."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.db = tmp_path / "runs.db"

    def __call__(self, *args: str | Path, stdin: str | None = None, **env: str) -> Result:
        return run_cli(*args, cwd=self.tmp_path, stdin=stdin, env=cli_env(**env))

    def run(self, procedure: str | Path, *args: str | Path, **kwargs: Any) -> Result:
        return self("run", procedure, "--db", self.db, *args, **kwargs)

    def resume(self, run_id: str, *args: str | Path, **kwargs: Any) -> Result:
        return self("resume", run_id, "--db", self.db, *args, **kwargs)

    def answers(self, items: list[Any], name: str = "answers.json") -> Path:
        path = self.tmp_path / name
        path.write_text(json.dumps(items), encoding="utf-8")
        return path

    def write(self, name: str, text: str) -> Path:
        path = self.tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """Exit 1 and exactly one `hitlbot: error:` line on stderr, containing every fragment."""
    assert result.code == 1, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr_lines) == 1, result.stderr
    line = result.stderr_lines[0]
    assert line.startswith("hitlbot: error: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


DEPLOY = EXAMPLES / "deploy_approval.yaml"
APPROVE_NOTES = {"value": {"decision": "approve", "feedback": "LGTM"}}
