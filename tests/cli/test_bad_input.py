"""Bad input of every kind: one `hitlbot: error:` line on stderr, exit status 1, no traceback."""

from __future__ import annotations

import sqlite3

import pytest

from tests.cli.helpers import DEPLOY, EXAMPLES, Cli, assert_one_error_line

BROKEN_YAML = """\
name: Broken
version: 1
class: Tactus
code: |
  return {ok = true}
params:
  env: {type: string
"""

BROKEN_LUA = """\
name: Broken Lua
version: 1
class: Tactus
code: |
  local ok = Human.approve{message = "Go?"}
  if ok then
    return {ok = true}
"""


def test_a_missing_procedure_file(cli: Cli):
    assert_one_error_line(
        cli.run("no_such_procedure.yaml"), "no_such_procedure.yaml", "no such file"
    )


def test_a_yaml_syntax_error_names_the_line(cli: Cli):
    result = cli.run(cli.write("broken.yaml", BROKEN_YAML))
    assert_one_error_line(result, "broken.yaml:8:", "invalid YAML")


def test_a_lua_syntax_error_names_the_file_line(cli: Cli):
    result = cli.run(cli.write("broken_lua.yaml", BROKEN_LUA))
    assert_one_error_line(result, "broken_lua.yaml:", "Lua syntax error", "'end' expected")
    assert not cli.db.exists() or cli("runs", "--db", cli.db, "--json").json() == {"runs": []}


@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        (["-p", "servce=checkout-api"], ["unknown parameter 'servce'", "did you mean 'service'"]),
        (["-p", "environment=prod"], ["parameter 'environment'", '"prod" is not one of']),
        (["--param", "novalue"], ["--param takes KEY=VALUE", "'novalue'"]),
        (["-p", "service=a", "-p", "service=b"], ["--param service is given twice"]),
    ],
)
def test_unknown_or_mistyped_params(cli: Cli, params: list[str], fragments: list[str]):
    assert_one_error_line(cli.run(DEPLOY, *params), *fragments)


def test_a_param_of_the_wrong_type(cli: Cli):
    result = cli.run(EXAMPLES / "incident_escalation.tac", "-p", "error_rate=lots")
    assert_one_error_line(result, "parameter 'error_rate'", "expected a number", "'lots'")


def test_several_param_problems_still_make_one_line(cli: Cli):
    result = cli.run(DEPLOY, "-p", "environment=prod", "-p", "colour=blue")
    assert_one_error_line(result, "'colour'", "'environment'")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("yes please", ["is not valid JSON", "line 1, column 1"]),
        ('{"value": true}', ["must hold a JSON list", "not an object"]),
        ('[{"value": true}, "yes"]', ["item 2 must be an object", "not a string"]),
        ("[{}]", ['item 1 needs "value" (the answer) or "timeout": true']),
        ('[{"vaule": true}]', ["item 1 has unknown key 'vaule'"]),
        ('[{"timeout": "soon"}]', ['"timeout" must be true or false']),
        ('[{"value": 1, "timeout": true}]', ['both "value" and "timeout"']),
    ],
)
def test_malformed_answers_files_are_refused_before_anything_runs(
    cli: Cli, content: str, fragments: list[str]
):
    answers = cli.write("answers.json", content)
    assert_one_error_line(cli.run(DEPLOY, "--answers", answers), "answers.json", *fragments)
    assert not cli.db.exists(), "no run may be created with a malformed answers file"


def test_a_missing_answers_file(cli: Cli):
    result = cli.run(DEPLOY, "--answers", "nowhere.json")
    assert_one_error_line(result, "answers file nowhere.json", "No such file")


@pytest.mark.parametrize(
    ("answers", "fragments"),
    [
        ([{"value": "ship it"}], ["unknown review decision 'ship it'", "choose one of approve"]),
        ([{"value": "approve"}, {"value": {"text": 1}}], ["input request", "takes text"]),
        ([{"value": "approve"}, {"value": "CHG-1"}, {"value": "maybe"}], ["yes or no"]),
    ],
)
def test_an_answer_that_does_not_fit_its_request(cli: Cli, answers: list, fragments: list[str]):
    result = cli.run(DEPLOY, "--answers", cli.answers(answers))
    assert_one_error_line(result, "does not fit", *fragments)


def test_an_escalation_cannot_time_out(cli: Cli):
    answers = cli.answers([{"value": "degraded"}, {"timeout": True}])
    result = cli.run(EXAMPLES / "incident_escalation.tac", "--answers", answers)
    assert_one_error_line(result, "escalation", "escalations never time out")


def test_an_unknown_run_id(cli: Cli):
    cli.run(DEPLOY)  # creates the database
    assert_one_error_line(cli.resume("feedface"), "no run with id 'feedface'", "hitlbot runs")


def test_resume_without_a_database(cli: Cli):
    assert_one_error_line(cli.resume("feedface"), f"no database at {cli.db}")


@pytest.mark.parametrize(
    ("make_db", "fragments"),
    [
        (lambda tmp: tmp, ["is a directory"]),
        (lambda tmp: tmp / "file.txt" / "runs.db", ["cannot create directory"]),
        (lambda tmp: tmp / "not_a_database.db", ["file is not a database"]),
    ],
)
def test_an_unusable_database_path(cli: Cli, tmp_path, make_db, fragments: list[str]):
    (tmp_path / "file.txt").write_text("a file, not a directory")
    (tmp_path / "not_a_database.db").write_text("definitely not SQLite " * 100)
    result = cli("run", DEPLOY, "--db", make_db(tmp_path))
    assert_one_error_line(result, *fragments)


def test_an_unexpected_error_is_one_line_and_the_traceback_is_opt_in(cli: Cli):
    cli.run(DEPLOY)
    with sqlite3.connect(cli.db) as conn:  # a database another tool damaged
        conn.execute("UPDATE runs SET status = 'HALF_DONE'")
    quiet = cli("runs", "--db", cli.db)
    assert_one_error_line(quiet, "HITLBOT_DEBUG=1")
    loud = cli("runs", "--db", cli.db, HITLBOT_DEBUG="1")
    assert loud.code == 1
    assert "Traceback" in loud.stderr
    assert loud.stderr_lines[-1].startswith("hitlbot: error: ")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["a command is required"]),
        (["launch"], ["invalid choice: 'launch'"]),
        (["run"], ["required: FILE", "hitlbot run --help"]),
        (["run", "x.yaml", "--colour"], ["unrecognized arguments: --colour"]),
        (["runs", "--limit", "many"], ["invalid int value: 'many'"]),
    ],
)
def test_command_line_mistakes(cli: Cli, args: list[str], fragments: list[str]):
    assert_one_error_line(cli(*args), *fragments)
