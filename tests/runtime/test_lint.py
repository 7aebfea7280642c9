"""`hitlbot validate`: findings a procedure author sees, each at the file line to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.lint import LintIssue, lint_procedure, lua_tokens

PROCEDURES = Path(__file__).parent / "procedures"
LINT = PROCEDURES / "lint"


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def at(issues: list[LintIssue], line: int) -> list[LintIssue]:
    return [i for i in issues if i.line == line]


def only(issues: list[LintIssue], line: int) -> LintIssue:
    found = at(issues, line)
    assert len(found) == 1, found
    return found[0]


# -- Human call sites --------------------------------------------------------------------------

HUMAN = LINT / "human_calls.tac"


@pytest.fixture(scope="module")
def human_issues() -> list[LintIssue]:
    return lint_procedure(HUMAN)


def test_misspelled_option_is_an_error_with_a_suggestion(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, "timout = 3600"))
    assert issue.severity == "error"
    assert issue.message == (
        "Human.approve: unknown option 'timout' (did you mean 'timeout'?); it would be ignored"
    )


def test_unknown_method(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, "Human.inputt"))
    assert issue.severity == "error"
    assert issue.message.startswith("unknown method Human.inputt (did you mean Human.input?")


def test_colon_call_is_a_portability_warning(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, "Human:notify"))
    assert issue.severity == "warning"
    assert "passes Human as the first argument in Tactus" in issue.message


def test_methods_hitlbot_cannot_serve_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "upload.tac"
    path.write_text('local f = Human.upload{message = "Logs?"}\nreturn f\n')
    (issue,) = lint_procedure(path)
    assert (issue.severity, issue.line) == ("error", 1)
    assert issue.message.startswith("Human.upload is not supported yet")


def test_unknown_option_next_to_known_ones(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, 'colour = "red"'))
    assert issue.message.startswith("Human.select: unknown option 'colour'")


def test_config_key_must_name_a_declaration(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, '"confrim"'))
    assert issue.severity == "error"
    assert "config_key 'confrim' names no hitl declaration (declared: confirm)" in issue.message
    assert at(human_issues, line_of(HUMAN, 'config_key = "confirm"')) == []


def test_multiple_items_are_checked(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, "placeholdr"))
    assert issue.message == "Human.multiple: unknown item option 'placeholdr'"
    assert at(human_issues, line_of(HUMAN, 'id = "b"')) == []


def test_deprecated_inputs_alias_is_a_warning(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, "Human.inputs"))
    assert issue.severity == "warning"
    assert "use Human.multiple" in issue.message


def test_bracketed_string_keys_are_checked(human_issues: list[LintIssue]) -> None:
    issue = only(human_issues, line_of(HUMAN, '[ "feedback" ]'))
    assert issue.message.startswith("Human.review: unknown option 'feedback'")


def test_comments_strings_and_non_literal_options_are_not_judged(
    human_issues: list[LintIssue],
) -> None:
    for needle in (
        "Human.approvee{}",
        '"Human.aprove{timout',
        "whatever = 1",
        "Human.approve(opts)",
    ):
        assert at(human_issues, line_of(HUMAN, needle)) == [], needle
    assert at(human_issues, line_of(HUMAN, 'Human.approve("confirm")')) == []


def test_findings_are_sorted_by_line(human_issues: list[LintIssue]) -> None:
    lines = [i.line or 0 for i in human_issues]
    assert lines == sorted(lines)
    assert len(human_issues) == 8


def test_clean_file_has_no_findings() -> None:
    assert lint_procedure(LINT / "clean.tac") == []


# -- YAML: schema problems and Lua lines mapped to file lines -----------------------------------

SCHEMA = LINT / "schema_problems.yaml"


@pytest.fixture(scope="module")
def schema_issues() -> list[LintIssue]:
    return lint_procedure(SCHEMA)


def test_every_bad_param_is_reported_not_just_the_first(schema_issues: list[LintIssue]) -> None:
    unknown = only(schema_issues, line_of(SCHEMA, "count:"))
    assert unknown.severity == "error"
    assert unknown.message.startswith("params.count: unknown type 'int'")

    enum = only(schema_issues, line_of(SCHEMA, "env:"))
    assert enum.severity == "error"
    assert enum.message == 'params.env: default "production" is not one of the choices ' + (
        '("staging", "prod")'
    )

    both = only(schema_issues, line_of(SCHEMA, "host:"))
    assert both.severity == "warning"
    assert both.message == "params.host: required has no effect because a default is given"

    assert at(schema_issues, line_of(SCHEMA, "fine:")) == []


def test_agents_warning_points_at_the_agents_key(schema_issues: list[LintIssue]) -> None:
    issue = only(schema_issues, line_of(SCHEMA, "agents:"))
    assert issue.severity == "warning"
    assert issue.message == "LLM agents are not supported; agents writer are ignored"


def test_lua_findings_in_yaml_use_file_lines(schema_issues: list[LintIssue]) -> None:
    typo = only(schema_issues, line_of(SCHEMA, "messsage"))
    assert "unknown option 'messsage' (did you mean 'message'?)" in typo.message
    undeclared = only(schema_issues, line_of(SCHEMA, "nothing_declared"))
    assert "names no hitl declaration (declared: none)" in undeclared.message


def test_load_error_is_the_only_finding_with_the_file_line() -> None:
    path = PROCEDURES / "broken" / "lua_syntax.yaml"
    issues = lint_procedure(path)
    assert issues == [
        LintIssue(
            "error", line_of(path, "= = 1"), "code: Lua syntax error: unexpected symbol near '='"
        )
    ]
    assert str(issues[0]) == f"line {issues[0].line}: error: {issues[0].message}"


def test_missing_file_is_reported_without_a_line(tmp_path: Path) -> None:
    issues = lint_procedure(tmp_path / "absent.tac")
    assert issues == [LintIssue("error", None, "no such file")]
    assert str(issues[0]) == "error: no such file"


# -- .tac specifics ------------------------------------------------------------------------------


def test_unsupported_declarations_are_warnings_at_their_line() -> None:
    path = PROCEDURES / "deploy.tac"
    issues = lint_procedure(path)
    agent = only(issues, line_of(path, "Agent {"))
    assert agent.severity == "warning"
    assert agent.message.startswith("Agent is not supported")
    dropped = only(issues, line_of(path, "dry_run ="))
    assert dropped.message == "params.dry_run: default is ignored because required = true"
    assert all(i.severity == "warning" for i in issues)


def test_script_declarations_after_the_first_primitive_are_flagged() -> None:
    path = LINT / "late_declarations.tac"
    issues = lint_procedure(path)
    stop = line_of(path, "Human.approve")
    assert [i.line for i in issues] == [line_of(path, "output {"), line_of(path, "Hitl(")]
    assert all(i.severity == "warning" for i in issues)
    assert f"comes after Human.approve (line {stop})" in issues[0].message


# -- tokens ------------------------------------------------------------------------------------


def test_tokens_skip_comments_and_keep_string_contents_and_lines() -> None:
    source = (
        "--[==[ long\ncomment ]==] a = [[two\nlines]]\n"
        "b = 'it''s' -- trailing Human.x\n"
        'c = "esc\\"aped" .. 0x1F'
    )
    tokens = lua_tokens(source)
    assert [(t.kind, t.text, t.line) for t in tokens] == [
        ("name", "a", 2),
        ("op", "=", 2),
        ("string", "two\nlines", 2),
        ("name", "b", 4),
        ("op", "=", 4),
        ("string", "it", 4),
        ("string", "s", 4),
        ("name", "c", 5),
        ("op", "=", 5),
        ("string", 'esc\\"aped', 5),
        ("op", "..", 5),
        ("number", "0x1F", 5),
    ]


def _batch(count: int, *, wrapped: bool = False) -> str:
    items = ",\n".join(f'  {{id = "q{n}", label = "Q{n}"}}' for n in range(count))
    table = f"{{\n{items},\n}}"
    return (
        f"local r = Human.multiple{{items = {table}}}\n"
        if wrapped
        else (f"local r = Human.multiple{table}\nreturn r\n")
    )


@pytest.mark.parametrize("wrapped", [False, True], ids=["list", "items"])
def test_a_literal_batch_larger_than_one_form_is_an_error(tmp_path: Path, wrapped: bool) -> None:
    path = tmp_path / "batch.tac"
    path.write_text(_batch(100, wrapped=wrapped))
    (issue,) = lint_procedure(path)
    assert (issue.severity, issue.line) == ("error", 1)
    assert issue.message == (
        "Human.multiple asks 100 items, more than one form holds (99 at most); "
        "split them over several calls"
    )
    path.write_text(_batch(99, wrapped=wrapped))
    assert lint_procedure(path) == []
