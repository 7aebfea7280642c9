"""Fixtures of the CLI tests: a `hitlbot` bound to a scratch directory and database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)
