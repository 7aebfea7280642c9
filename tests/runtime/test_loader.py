"""Loading procedure files: every format and form, and every way a file can be wrong.

Expected line numbers are looked up in the fixture files, so a test reads "the error points at the
line that has `local x = = 1`", which is what a person fixing the file needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime import declarations
from runtime.errors import ProcedureLoadError, SandboxError
from runtime.loader import Catalog, load_catalog, load_procedure
from runtime.procedure import Procedure, ProcedureFormat
from runtime.sandbox import Sandbox
from runtime.schema import coerce_params

PROCEDURES = Path(__file__).parent / "procedures"
BROKEN = PROCEDURES / "broken"


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of `path` containing `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def load_error(path: Path) -> ProcedureLoadError:
    with pytest.raises(ProcedureLoadError) as caught:
        load_procedure(path)
    return caught.value


def run_tac(procedure: Procedure, raw_params: dict[str, Any], **host: Any) -> Any:
    """Execute a `.tac` procedure the way the execution contract says, with host stubs."""
    values = coerce_params(procedure, raw_params, from_strings=False)
    sandbox = Sandbox()
    for path, fn in host.items():
        sandbox.define(path.replace("__", "."), fn)
    declarations.install(sandbox, values)
    results = sandbox.execute(procedure.code)
    main = declarations.entry_point(sandbox)
    if main is not None:
        results = sandbox.call(main, values)
    return results[0] if results else None


# -- Plexus YAML -------------------------------------------------------------------------------


def test_plexus_yaml_reads_every_section() -> None:
    path = PROCEDURES / "plexus_restart.yaml"
    procedure = load_procedure(path)

    assert procedure.procedure_id == "plexus_restart"
    assert procedure.format is ProcedureFormat.PLEXUS_YAML
    assert procedure.name == "Restart service"
    assert procedure.version == "1.0"  # YAML reads 1.0 as a float; it is still a version
    assert procedure.description == "Restart a host after someone approves it."
    assert list(procedure.params) == ["host", "attempts", "environment", "notes"]
    assert procedure.params["host"].required is True
    assert procedure.params["host"].description == "Host to restart"
    assert procedure.params["attempts"].type == "integer"
    assert procedure.params["attempts"].default == 2
    assert procedure.params["environment"].enum == ["staging", "prod"]
    assert procedure.params["environment"].value == "staging"
    assert procedure.params["notes"].input == "textarea"
    assert procedure.params["notes"].rows == 4
    assert procedure.outputs["restarted"].type == "boolean"
    assert procedure.hitl["confirm_restart"]["timeout"] == 900
    assert procedure.stages == ["checking", "restarting"]
    assert procedure.config == {
        "approvers": ["U0ALICE", "U0BOB"],
        "channel": "#ops",
        "allow_self_approval": False,
    }
    assert procedure.code.startswith("-- Lua line 1")


def test_plexus_yaml_warns_that_agents_are_ignored() -> None:
    procedure = load_procedure(PROCEDURES / "plexus_restart.yaml")
    assert procedure.warnings == ["LLM agents are not supported; agents dummy are ignored"]


def test_code_line_offset_maps_lua_lines_to_file_lines() -> None:
    path = PROCEDURES / "plexus_restart.yaml"
    procedure = load_procedure(path)
    with pytest.raises(SandboxError) as caught:  # no Human here: indexing nil fails
        Sandbox().execute(procedure.code)
    assert caught.value.line is not None
    assert caught.value.line + procedure.code_line_offset == line_of(path, "Human.approve")


def test_legacy_tactus_yaml_keeps_lua_under_procedure() -> None:
    path = PROCEDURES / "legacy_restart.yaml"
    procedure = load_procedure(path)

    assert procedure.format is ProcedureFormat.TACTUS_YAML
    assert procedure.name == "restart_service"
    assert procedure.version == "1.0.0"
    assert procedure.params["host"].required is True
    assert procedure.hitl["confirm_restart"]["message"] == "Restart the service?"
    assert procedure.config == {"default_provider": "openai"}
    assert procedure.warnings == ["LLM agents are not supported; agents unused are ignored"]
    first_lua_line = procedure.code.splitlines()[0]
    file_lines = path.read_text().splitlines()
    assert file_lines[procedure.code_line_offset].strip() == first_lua_line.strip()


def test_yaml_without_agents_needs_none(tmp_path: Path) -> None:
    path = tmp_path / "pure_hitl.yml"
    path.write_text("name: Pure\nversion: 2\nprocedure: |\n  return {}\n")
    procedure = load_procedure(path)
    assert procedure.warnings == []
    assert procedure.version == "2"
    assert procedure.code_line_offset == 3


def test_single_line_code_has_offset_of_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "one_liner.yaml"
    path.write_text('name: One\nversion: 1.0.0\nclass: Tactus\ncode: "return {x = = 1}"\n')
    error = load_error(path)
    assert error.line == 4
    assert error.field == "code"


# -- .tac files --------------------------------------------------------------------------------


def test_tac_procedure_block_declares_everything() -> None:
    procedure = load_procedure(PROCEDURES / "deploy.tac")

    assert procedure.format is ProcedureFormat.TAC
    assert procedure.procedure_id == procedure.name == "deploy"
    assert procedure.description == (
        "Deploy a service once a second person approves. Used by the loader tests."
    )
    assert list(procedure.params) == ["service", "replicas", "region", "tags", "dry_run"]
    assert procedure.params["service"].required is True
    assert procedure.params["service"].description == "Service to deploy"
    assert procedure.params["replicas"].type == "integer"
    assert procedure.params["replicas"].default == 2
    assert procedure.params["region"].enum == ["eu", "us"]
    assert procedure.params["tags"].type == "array"
    assert list(procedure.outputs) == ["deployed", "summary"]
    assert procedure.state["attempts"].type == "number"
    assert procedure.hitl["confirm_deploy"] == {
        "type": "approval",
        "message": "Deploy now?",
        "timeout": 600,
        "default": False,
    }
    assert procedure.config == {"approvers": ["U0ALICE"], "channel": "#deploys"}
    assert procedure.code_line_offset == 0


def test_tac_builder_drops_default_of_required_field_with_a_warning() -> None:
    procedure = load_procedure(PROCEDURES / "deploy.tac")
    assert procedure.params["dry_run"].required is True
    assert procedure.params["dry_run"].default is None
    assert "params.dry_run: default is ignored because required = true" in procedure.warnings


def test_tac_llm_declarations_load_with_a_warning_and_fail_only_when_used() -> None:
    procedure = load_procedure(PROCEDURES / "deploy.tac")
    assert any(w.startswith("Agent is not supported") for w in procedure.warnings)

    sandbox = Sandbox()
    declarations.install(sandbox, {})
    sandbox.execute('helper = Agent { provider = "openai" }\nProcedure { function() helper() end }')
    with pytest.raises(SandboxError, match="Agent is not supported"):
        sandbox.call(declarations.entry_point(sandbox))


def test_tac_procedure_runs_with_its_input_table() -> None:
    procedure = load_procedure(PROCEDURES / "deploy.tac")
    asked: list[dict[str, Any]] = []

    def approve(options: dict[str, Any]) -> bool:
        asked.append(options)
        return True

    result = run_tac(procedure, {"service": "api", "dry_run": False}, Human__approve=approve)
    assert result == {"deployed": True, "summary": "api x2"}
    assert asked == [{"config_key": "confirm_deploy", "context": {"service": "api"}}]


@pytest.mark.parametrize(
    ("fixture", "params", "expected"),
    [
        ("curried.tac", {}, {"greeting": "hello world"}),
        ("legacy_call.tac", {"who": "you"}, {"greeting": "hi you"}),
        ("run_field.tac", {}, {"greeting": "run run"}),
        ("plain_main.lua", {}, {"greeting": "plain plain"}),
        ("assigned.tac", {"count": 4}, {"double": 8}),
        ("stages_table.tac", {}, {"stage_count": 2}),
    ],
)
def test_every_procedure_form_declares_and_runs(
    fixture: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    procedure = load_procedure(PROCEDURES / fixture)
    assert run_tac(procedure, params) == expected


def test_assigned_main_is_the_entry_point_among_several_procedures() -> None:
    procedure = load_procedure(PROCEDURES / "assigned.tac")
    assert list(procedure.params) == ["count"]  # main's input, not helper's
    assert procedure.outputs["double"].type == "number"


def test_tactus_0_10_style_file() -> None:
    procedure = load_procedure(PROCEDURES / "v010.tac")

    assert list(procedure.params) == ["topic", "words"]
    assert procedure.params["topic"].required is True
    assert procedure.params["words"].default == 300
    assert procedure.outputs["published"].required is True
    assert list(procedure.state) == ["draft"]
    assert procedure.hitl["confirm_publish"]["timeout"] == 3600
    assert procedure.stages == ["draft", "review", "published"]
    assert any(w.startswith("prompt is not supported") for w in procedure.warnings)
    # main takes no arguments and reads the global `input`
    result = run_tac(procedure, {"topic": "lua"}, Human__approve=lambda _opts: False)
    assert result == {"published": False, "topic": "lua"}


def test_script_mode_declares_with_input_and_output_calls() -> None:
    procedure = load_procedure(PROCEDURES / "script.tac")

    assert list(procedure.params) == ["amount", "currency"]
    assert procedure.params["amount"].required is True
    assert procedure.params["currency"].default == "EUR"
    assert procedure.outputs["approved"].type == "boolean"
    assert "big_spend" in procedure.hitl
    result = run_tac(procedure, {"amount": 120}, Human__approve=lambda opts: opts["context"])
    assert result == {"approved": {"amount": 120}}


def test_script_body_does_not_run_while_declarations_are_read(tmp_path: Path) -> None:
    path = tmp_path / "loops.tac"
    path.write_text(
        "input { n = field.number{} }\nHuman.notify{message = 'start'}\nwhile true do end\n"
    )
    procedure = load_procedure(path)  # the pass stops at Human, long before the loop
    assert list(procedure.params) == ["n"]


def test_script_runtime_error_without_inputs_is_not_a_load_error() -> None:
    procedure = load_procedure(PROCEDURES / "script_needs_input.tac")
    assert procedure.params["count"].required is True
    assert run_tac(procedure, {"count": 21}) == {"doubled": 42}


def test_input_and_params_hold_values_at_run_time_and_stay_callable() -> None:
    sandbox = Sandbox()
    declarations.install(sandbox, {"name": "ada", "tags": ["a", "b"]})
    results = sandbox.execute(
        "input { name = field.string{} }\n"
        "return {name = input.name, same = params.name, n = #input.tags}"
    )
    assert results == [{"name": "ada", "same": "ada", "n": 2}]
    assert declarations.entry_point(sandbox) is None  # script mode


def test_primitives_defined_on_procedure_survive_install_in_either_order() -> None:
    for define_first in (True, False):
        sandbox = Sandbox()
        if define_first:
            sandbox.define("Procedure.defer", lambda _opts: "deferred")
        declarations.install(sandbox, {})
        if not define_first:
            sandbox.define("Procedure.defer", lambda _opts: "deferred")
        sandbox.execute("Procedure { function() return Procedure.defer{key = 'k'} end }")
        assert sandbox.call(declarations.entry_point(sandbox)) == ["deferred"]


def test_entry_point_refuses_an_ambiguous_file() -> None:
    sandbox = Sandbox()
    declarations.install(sandbox, {})
    sandbox.execute((BROKEN / "two_unnamed.tac").read_text())
    with pytest.raises(SandboxError, match="several unnamed Procedure"):
        declarations.entry_point(sandbox)


# -- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nope.yaml")
    assert str(error) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_directory_is_not_a_procedure(tmp_path: Path) -> None:
    error = load_error(tmp_path)
    assert "is a directory" in str(error)


def test_empty_and_binary_and_huge_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("  \n\n")
    assert load_error(empty).detail == "file is empty"

    binary = tmp_path / "binary.tac"
    binary.write_bytes(b"-- ok\n\xff\xfe\x00garbage")
    error = load_error(binary)
    assert "not UTF-8 text" in error.detail
    assert error.line == 2

    huge = tmp_path / "huge.lua"
    huge.write_text("-- " + "x" * (2 * 1024 * 1024))
    assert "larger than" in load_error(huge).detail


def test_text_that_is_not_a_yaml_mapping() -> None:
    error = load_error(BROKEN / "not_yaml.yaml")
    assert str(error).startswith(f"{BROKEN / 'not_yaml.yaml'}:1: ")
    assert "expected YAML keys" in error.detail


def test_yaml_syntax_error_names_the_line() -> None:
    path = BROKEN / "yaml_syntax.yaml"
    error = load_error(path)
    assert error.detail.startswith("invalid YAML:")
    assert error.line == line_of(path, "code:")  # where the parser noticed
    assert f"at line {line_of(path, 'host:')}" in error.detail  # where the mapping began


def test_missing_required_key_names_the_field() -> None:
    error = load_error(BROKEN / "missing_version.yaml")
    assert error.field == "version"
    assert str(error) == f"{BROKEN / 'missing_version.yaml'}: version: required key is missing"


def test_empty_code_names_file_line_and_field() -> None:
    path = BROKEN / "empty_code.yaml"
    error = load_error(path)
    assert str(error) == f"{path}:{line_of(path, 'code:')}: code: must be a non-empty string of Lua"


@pytest.mark.parametrize(
    ("fixture", "needle"),
    [("lua_syntax.yaml", "= = 1"), ("lua_syntax.tac", "the parser stops here")],
)
def test_lua_syntax_error_points_at_the_file_line(fixture: str, needle: str) -> None:
    path = BROKEN / fixture
    error = load_error(path)
    assert error.detail.startswith("Lua syntax error: unexpected symbol")
    assert error.line == line_of(path, needle)
    assert str(error).startswith(f"{path}:{error.line}: ")


def test_unfinished_block_is_reported_at_the_end_of_the_file() -> None:
    path = BROKEN / "unclosed.yaml"
    error = load_error(path)
    assert error.line == len(path.read_text().splitlines())
    assert "'end' expected" in error.detail


def test_lua_error_mentioning_another_line_uses_file_lines() -> None:
    path = BROKEN / "unclosed.yaml"
    error = load_error(path)
    assert f"at line {line_of(path, 'local f = function()')}" in error.detail


def test_class_luadsl_is_rejected() -> None:
    path = BROKEN / "luadsl.yaml"
    error = load_error(path)
    assert error.field == "class"
    assert error.line == line_of(path, "class:")
    assert "LuaDSL procedures are not supported" in error.detail


def test_workflow_key_is_rejected() -> None:
    path = BROKEN / "workflow.yaml"
    error = load_error(path)
    assert error.field == "workflow"
    assert error.line == line_of(path, "workflow:")
    assert "not supported" in error.detail


def test_plexus_code_without_class_is_rejected() -> None:
    error = load_error(BROKEN / "no_class.yaml")
    assert "needs class: Tactus" in error.detail


def test_unknown_param_type_names_field_and_suggests() -> None:
    path = BROKEN / "bad_param_type.yaml"
    error = load_error(path)
    assert error.field == "params.count"
    assert error.line == line_of(path, "count:")
    assert "unknown type 'int'" in error.detail
    assert "did you mean 'integer'" in error.detail


def test_enum_default_outside_the_choices() -> None:
    path = BROKEN / "enum_default.yaml"
    error = load_error(path)
    assert error.field == "params.env"
    assert error.line == line_of(path, "env:")
    assert '"production" is not one of the choices ("staging", "prod")' in error.detail


def test_unknown_field_builder_in_tac() -> None:
    path = BROKEN / "bad_field.tac"
    error = load_error(path)
    assert error.line == line_of(path, "field.text")
    assert "unknown field type 'field.text'" in error.detail


def test_tac_top_level_error_is_a_load_error_with_its_line() -> None:
    path = BROKEN / "toplevel_error.tac"
    error = load_error(path)
    assert error.line == line_of(path, "settings.region")
    assert error.detail.startswith("error while reading declarations:")


def test_primitive_before_the_procedure_is_declared() -> None:
    path = BROKEN / "log_before_procedure.tac"
    error = load_error(path)
    assert error.line == line_of(path, "Log.info")
    assert "Log.info is used at the top level before the procedure is declared" in error.detail


def test_ambiguous_or_missing_main_procedure() -> None:
    assert "several unnamed Procedure" in load_error(BROKEN / "two_unnamed.tac").detail
    detail = load_error(BROKEN / "no_main.tac").detail
    assert "no main procedure" in detail
    assert "helper" in detail


def test_tac_runaway_top_level_is_stopped(tmp_path: Path) -> None:
    path = tmp_path / "spin.tac"
    path.write_text("while true do end\nProcedure { function() end }\n")
    assert "limit" in load_error(path).detail


# -- catalog -----------------------------------------------------------------------------------


def test_catalog_loads_every_fixture_by_procedure_id() -> None:
    catalog = load_catalog(PROCEDURES)
    assert isinstance(catalog, Catalog)
    assert catalog.errors == []
    expected = {
        p.stem for p in PROCEDURES.iterdir() if p.suffix in (".yaml", ".yml", ".tac", ".lua")
    }
    assert set(catalog.procedures) == expected
    assert all(pid == p.procedure_id for pid, p in catalog.procedures.items())


def test_catalog_reports_broken_files_without_hiding_good_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("name: Good\nversion: 1\nprocedure: |\n  return {}\n")
    (tmp_path / "bad.yaml").write_text("name: Bad\nversion: 1\nprocedure: |\n  return {\n")
    (tmp_path / "notes.txt").write_text("not a procedure")
    (tmp_path / ".hidden.tac").write_text("this is not lua")
    procedures, errors = load_catalog(tmp_path)
    assert list(procedures) == ["good"]
    assert [Path(e.path).name for e in errors] == ["bad.yaml"]


def test_catalog_of_broken_files_reports_each_one() -> None:
    catalog = load_catalog(BROKEN)
    assert catalog.procedures == {}
    reported = sorted(Path(e.path).name for e in catalog.errors)
    assert reported == sorted(p.name for p in BROKEN.iterdir())


def test_catalog_refuses_two_files_with_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "deploy.tac").write_text("Procedure { function() return {} end }\n")
    (tmp_path / "deploy.yaml").write_text("name: D\nversion: 1\nprocedure: |\n  return {}\n")
    procedures, errors = load_catalog(tmp_path)
    assert list(procedures) == ["deploy"]
    assert len(errors) == 1
    assert "procedure id 'deploy' is already used by deploy.tac" in str(errors[0])


def test_catalog_of_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ProcedureLoadError, match="no such directory"):
        load_catalog(tmp_path / "missing")


# -- smaller YAML rules --------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_version_is_kept_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "v.yaml", "name: V\nversion: 1.10\nprocedure: |\n  return {}\n")
    assert load_procedure(path).version == "1.10"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("name: [a]\nversion: 1\nprocedure: x()\n", "name", "must be a non-empty string"),
        ("version: 1\nprocedure: x()\n", "name", "required key is missing"),
        (
            "name: N\nversion: 1\nclass: Python\ncode: x()\n",
            "class",
            "expected Tactus, got 'Python'",
        ),
        ("name: N\nversion: 1\nclass: Tactus\nprocedure: x()\n", "procedure", "under code:"),
        ("name: N\nversion: 1\nprocedure: x()\nhitl: [a, b]\n", "hitl", "must be a mapping"),
        ("name: N\nversion: 1\nprocedure: x()\nstages: 3\n", "stages", "list of stage names"),
        ("name: N\nversion: 1\nprocedure: x()\nparams: [a]\n", "params", "table of fields"),
        ("name: N\nversion: 1\nprocedure: x()\nhitl: {a: 1}\n", "hitl.a", "table of options"),
    ],
)
def test_yaml_key_errors_name_the_key_and_its_line(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = write(tmp_path, "p.yaml", text)
    error = load_error(path)
    assert error.field == field
    assert message in error.detail
    key = field.split(".")[-1]
    if f"{key}:" in text:
        assert error.line == line_of(path, f"{key}:")


def test_yaml_without_any_lua(tmp_path: Path) -> None:
    path = write(tmp_path, "nolua.yaml", "name: N\nversion: 1\n")
    assert "no Lua found" in load_error(path).detail


def test_load_error_lists_how_many_more_problems_there_are(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many.yaml",
        "name: N\nversion: 1\nprocedure: x()\nparams:\n  a: {type: int}\n  b: {type: bool}\n",
    )
    error = load_error(path)
    assert error.field == "params.a"
    assert error.detail.endswith("(and 1 more problem: run `hitlbot validate`)")


def test_odd_yaml_keys_inside_a_declaration_are_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.yaml", "name: N\nversion: 1\nprocedure: x()\nhitl:\n  a: {1: x}\n")
    error = load_error(path)
    assert error.field is not None and error.field.startswith("hitl.a")


def test_other_tactus_spellings_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extras.tac",
        'local done = require("tactus.tools.done")\n'
        'Toolset "research" { tools = {"search"} }\n'
        "Specification([[Feature: approvals]])\n"
        'Hitl "confirm" { type = "approval", message = "Sure?" }\n'
        "Procedure { function(input) return {ok = true} end }\n",
    )
    procedure = load_procedure(path)
    assert procedure.hitl == {"confirm": {"type": "approval", "message": "Sure?"}}
    unsupported = sorted(w.split()[0] for w in procedure.warnings)
    assert unsupported == ["Specification", "Toolset", "require"]
    assert run_tac(procedure, {}) == {"ok": True}
