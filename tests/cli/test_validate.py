"""`hitlbot validate`: `FILE:LINE: error|warning: message`, exit 1 only when there is an error."""

from __future__ import annotations

import pytest

from tests.cli.helpers import EXAMPLES, Cli

EXAMPLE_FILES = sorted(
    path for path in EXAMPLES.iterdir() if path.suffix in (".yaml", ".tac", ".lua")
)

TYPO = """\
name: Typo
version: 1
class: Tactus
code: |
  local ok = Human.approve{
    message = "Restart api-7?",
    timout = 600,
  }
  return {ok = ok}
"""

WARNING_ONLY = """\
name: Warning only
version: 1
class: Tactus
params:
  host: {type: string, required: true, default: api-7}
code: |
  return {host = params.host}
"""

BAD_TAC = """\
-- a .tac file with a syntax error on line 4
Procedure {
  function(input)
    local x = = 1
  end,
}
"""


def test_the_examples_are_clean(cli: Cli):
    assert len(EXAMPLE_FILES) >= 4
    result = cli("validate", *EXAMPLE_FILES)
    assert result.code == 0, result.stdout
    assert result.stdout.splitlines() == [f"{path}: ok" for path in EXAMPLE_FILES]
    assert result.stderr == ""


def test_an_error_is_reported_with_file_and_line_and_exits_1(cli: Cli):
    path = cli.write("typo.yaml", TYPO)
    result = cli("validate", path)
    assert result.code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}:7: error: Human.approve: unknown option 'timout'")
    assert "did you mean 'timeout'" in line


def test_warnings_alone_do_not_fail(cli: Cli):
    path = cli.write("warning.yaml", WARNING_ONLY)
    result = cli("validate", path)
    assert result.code == 0
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}:5: warning: params.host:")


def test_a_lua_syntax_error_in_a_tac_file(cli: Cli):
    path = cli.write("bad.tac", BAD_TAC)
    result = cli("validate", path)
    assert result.code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}:4: error: Lua syntax error")


HOSTILE_TAC = """\
-- integer keys that all collide in Lua's hash: one store runs for minutes in one instruction
local t = {}
for i = 1, 2^18 + 1 do t[i * (2^19 - 1)] = true end
Procedure { function(input) return 1 end }
"""


def test_a_file_whose_top_level_never_finishes_is_reported_not_waited_for(cli: Cli):
    path = cli.write("hostile.tac", HOSTILE_TAC)
    result = cli("validate", path, EXAMPLES / "deploy_approval.yaml")
    assert result.code == 1
    assert result.stdout.splitlines() == [
        f"{path}: error: loading it took longer than 5 s (its top-level code never finished)",
        f"{EXAMPLES / 'deploy_approval.yaml'}: ok",
    ]


def test_several_files_one_bad(cli: Cli):
    good = EXAMPLES / "deploy_approval.yaml"
    bad = cli.write("typo.yaml", TYPO)
    result = cli("validate", good, bad)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{good}: ok"
    assert lines[1].startswith(f"{bad}:7: error:")


@pytest.mark.parametrize("name", ["missing.yaml", "."])
def test_unreadable_paths_are_errors(cli: Cli, name: str):
    result = cli("validate", name)
    assert result.code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{name}: error: ")
    assert "Traceback" not in result.stderr
