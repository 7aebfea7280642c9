"""The procedure catalog: files by name, edits picked up without a restart, broken files named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import RECHECK_SECONDS, ProcedureCatalog, UnknownProcedureError
from runtime.loader import load_procedure
from runtime.procedure import Procedure

ONE = """name: One
version: 1.0.0
class: Tactus
code: |
  return Human.approve{message = "one?"}
"""


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_new_and_edited_files_are_picked_up_after_the_recheck_interval(
    tmp_path: Path,
) -> None:
    ticks = Ticks()
    (tmp_path / "one.yaml").write_text(ONE)
    catalog = ProcedureCatalog(tmp_path, clock=ticks)
    await catalog.refresh()
    assert list(catalog.procedures()) == ["one"]
    (tmp_path / "two.yaml").write_text(ONE.replace("One", "Two"))
    await catalog.refresh()
    assert list(catalog.procedures()) == ["one"]  # within the interval: no directory scan
    ticks.now += RECHECK_SECONDS
    await catalog.refresh()
    assert sorted(catalog.procedures()) == ["one", "two"]
    assert catalog.get("two").name == "Two"


async def test_only_changed_files_are_read_again(tmp_path: Path) -> None:
    ticks, read = Ticks(), []

    def load(path: str) -> Procedure:
        read.append(Path(path).name)
        return load_procedure(path)

    (tmp_path / "one.yaml").write_text(ONE)
    (tmp_path / "two.yaml").write_text(ONE.replace("One", "Two"))
    catalog = ProcedureCatalog(tmp_path, clock=ticks, load=load)
    await catalog.refresh()
    (tmp_path / "two.yaml").write_text(ONE.replace("One", "Second"))
    ticks.now += RECHECK_SECONDS
    await catalog.refresh()
    assert sorted(read) == ["one.yaml", "two.yaml", "two.yaml"]
    assert catalog.get("two").name == "Second"


async def test_a_broken_file_is_named_with_its_line_and_hides_nothing_else(
    tmp_path: Path,
) -> None:
    (tmp_path / "one.yaml").write_text(ONE)
    (tmp_path / "bad.yaml").write_text("name: Bad\nversion: 1\nclass: Tactus\ncode: |\n  x = = 1\n")
    catalog = ProcedureCatalog(tmp_path)
    await catalog.refresh()
    assert catalog.is_broken("bad") and not catalog.is_broken("one")
    with pytest.raises(UnknownProcedureError, match=r"`bad` does not load \(bad\.yaml:5\)"):
        catalog.get("bad")
    with pytest.raises(UnknownProcedureError, match=r"available: `one`"):
        catalog.get("nope")
    assert catalog.get("one").name == "One"
