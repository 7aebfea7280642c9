"""The console script and `python -m bot.cli` are the same command; help and version work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import Cli, cli_env
from tests.conftest import REPO


@pytest.mark.parametrize("command", ["run", "resume", "runs", "validate"])
def test_every_command_has_help(cli: Cli, command: str):
    result = cli(command, "--help")
    assert result.code == 0
    assert result.stdout.startswith(f"usage: hitlbot {command}")
    assert result.stderr == ""


def test_top_level_help_lists_commands_and_exit_statuses(cli: Cli):
    result = cli("--help")
    assert result.code == 0
    for command in ("validate", "run", "resume", "runs"):
        assert command in result.stdout
    assert "3 waiting for a human" in result.stdout


def test_python_dash_m_runs_the_same_command(cli: Cli):
    completed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("hitlbot ")
