"""Parameter coercion, output checks and field declarations, as the person typing sees them."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import ParamError
from runtime.procedure import FieldSpec, Procedure, ProcedureFormat
from runtime.schema import check_outputs, coerce_params, parse_field


def procedure(
    params: dict[str, dict[str, Any]] | None = None,
    outputs: dict[str, dict[str, Any]] | None = None,
) -> Procedure:
    return Procedure(
        procedure_id="deploy",
        name="Deploy",
        format=ProcedureFormat.PLEXUS_YAML,
        source_path="deploy.yaml",
        code="return {}",
        params={k: FieldSpec(**v) for k, v in (params or {}).items()},
        outputs={k: FieldSpec(**v) for k, v in (outputs or {}).items()},
    )


def param_problems(proc: Procedure, raw: dict[str, Any], *, from_strings: bool) -> list[str]:
    with pytest.raises(ParamError) as caught:
        coerce_params(proc, raw, from_strings=from_strings)
    return str(caught.value).splitlines()


DEPLOY = procedure(
    {
        "service": {"type": "string", "required": True, "description": "What to deploy"},
        "replicas": {"type": "integer", "default": 2},
        "ratio": {"type": "number"},
        "dry_run": {"type": "boolean", "default": False},
        "env": {"type": "string", "enum": ["staging", "prod"], "value": "staging"},
        "regions": {"type": "array", "enum": ["eu", "us", "ap"]},
        "labels": {"type": "object"},
    }
)


# -- coerce_params -----------------------------------------------------------------------------


def test_defaults_and_baked_values_fill_what_was_not_given() -> None:
    values = coerce_params(DEPLOY, {"service": "api"}, from_strings=False)
    assert values == {"service": "api", "replicas": 2, "dry_run": False, "env": "staging"}


def test_given_values_win_over_value_and_default() -> None:
    values = coerce_params(
        DEPLOY, {"service": "api", "env": "prod", "replicas": 5}, from_strings=False
    )
    assert values["env"] == "prod"
    assert values["replicas"] == 5


def test_strings_from_a_person_are_converted() -> None:
    values = coerce_params(
        DEPLOY,
        {
            "service": "api",
            "replicas": "3",
            "ratio": "0.5",
            "dry_run": "yes",
            "regions": "eu, us",
            "labels": '{"team": "core"}',
        },
        from_strings=True,
    )
    assert values["replicas"] == 3
    assert type(values["replicas"]) is int
    assert values["ratio"] == 0.5
    assert values["dry_run"] is True
    assert values["regions"] == ["eu", "us"]
    assert values["labels"] == {"team": "core"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("no", False), ("YES", True), ("off", False), ("1", True)],
)
def test_boolean_words(text: str, expected: bool) -> None:
    values = coerce_params(DEPLOY, {"service": "s", "dry_run": text}, from_strings=True)
    assert values["dry_run"] is expected


def test_array_as_json_and_integer_written_as_float() -> None:
    values = coerce_params(
        DEPLOY, {"service": "s", "regions": '["ap"]', "replicas": "4.0"}, from_strings=True
    )
    assert values["regions"] == ["ap"]
    assert values["replicas"] == 4


def test_blank_form_entries_count_as_not_given() -> None:
    values = coerce_params(DEPLOY, {"service": "api", "replicas": " "}, from_strings=True)
    assert values["replicas"] == 2
    assert param_problems(DEPLOY, {"service": ""}, from_strings=True) == [
        "parameter 'service' is required (string: What to deploy)"
    ]


def test_missing_required_parameter_says_what_it_is() -> None:
    assert param_problems(DEPLOY, {}, from_strings=False) == [
        "parameter 'service' is required (string: What to deploy)"
    ]


def test_unknown_parameter_lists_known_ones_and_suggests() -> None:
    problems = param_problems(DEPLOY, {"service": "api", "replica": 3}, from_strings=False)
    assert problems == [
        "unknown parameter 'replica' (did you mean 'replicas'? known: service, replicas, ratio, "
        "dry_run, env, regions, labels)"
    ]


def test_procedure_without_parameters_refuses_any() -> None:
    problems = param_problems(procedure(), {"x": 1}, from_strings=True)
    assert problems == ["unknown parameter 'x': this procedure takes no parameters"]


def test_every_problem_is_reported_at_once_one_per_line() -> None:
    problems = param_problems(
        DEPLOY,
        {"replicas": "many", "dry_run": "maybe", "env": "dev", "labels": "{oops", "colour": "red"},
        from_strings=True,
    )
    assert len(problems) == 6
    assert problems[0].startswith("unknown parameter 'colour'")
    joined = "\n".join(problems)
    assert "parameter 'service' is required" in joined
    assert "parameter 'replicas': expected an integer, got 'many'" in joined
    assert "parameter 'dry_run': expected true or false (or yes/no), got 'maybe'" in joined
    assert 'parameter \'env\': "dev" is not one of the choices ("staging", "prod")' in joined
    assert "parameter 'labels': expected JSON for an object, got '{oops'" in joined


def test_enum_applies_to_each_item_of_an_array() -> None:
    problems = param_problems(DEPLOY, {"service": "s", "regions": "eu,mars"}, from_strings=True)
    assert problems == [
        'parameter \'regions\': "mars" is not one of the choices ("eu", "us", "ap")'
    ]


def test_typed_values_are_not_converted_from_strings() -> None:
    problems = param_problems(
        DEPLOY, {"service": "s", "replicas": "3", "dry_run": 1}, from_strings=False
    )
    assert problems == [
        "parameter 'replicas': expected an integer, got string \"3\"",
        "parameter 'dry_run': expected a boolean, got integer 1",
    ]


def test_booleans_are_not_numbers_and_fractions_not_integers() -> None:
    problems = param_problems(
        DEPLOY, {"service": "s", "ratio": True, "replicas": 2.5}, from_strings=False
    )
    assert problems == [
        "parameter 'replicas': expected an integer, got number 2.5",
        "parameter 'ratio': expected a number, got boolean true",
    ]


def test_non_finite_numbers_are_refused() -> None:
    problems = param_problems(DEPLOY, {"service": "s", "ratio": "nan"}, from_strings=True)
    assert problems == ["parameter 'ratio': expected a finite number, got 'nan'"]


def test_string_parameters_keep_text_as_typed() -> None:
    values = coerce_params(DEPLOY, {"service": " 007 "}, from_strings=True)
    assert values["service"] == " 007 "


# -- check_outputs -----------------------------------------------------------------------------


@pytest.mark.parametrize("result", [None, "done", ["a", "b"], {"anything": 1}, 42, True])
def test_no_outputs_declared_returns_the_result_unchanged(result: Any) -> None:
    assert check_outputs(procedure(), result) == result


def test_outputs_are_checked_and_extra_keys_kept() -> None:
    proc = procedure(
        outputs={
            "deployed": {"type": "boolean", "required": True},
            "count": {"type": "integer"},
            "hosts": {"type": "array"},
            "level": {"type": "string", "enum": ["low", "high"]},
        }
    )
    result = check_outputs(proc, {"deployed": True, "count": 3.0, "hosts": {}, "note": "x"})
    assert result == {"deployed": True, "count": 3, "hosts": [], "note": "x"}


def test_missing_required_output_and_wrong_types_are_errors() -> None:
    proc = procedure(
        outputs={
            "deployed": {"type": "boolean", "required": True},
            "count": {"type": "integer"},
            "level": {"type": "string", "enum": ["low", "high"]},
        }
    )
    with pytest.raises(ParamError) as caught:
        check_outputs(proc, {"count": "three", "level": "extreme"})
    assert str(caught.value).splitlines() == [
        "output 'deployed' is required but was not returned",
        "output 'count': expected an integer, got string \"three\"",
        'output \'level\': "extreme" is not one of the choices ("low", "high")',
    ]


def test_nil_result_when_outputs_are_required() -> None:
    proc = procedure(outputs={"deployed": {"type": "boolean", "required": True}})
    with pytest.raises(ParamError, match="output 'deployed' is required"):
        check_outputs(proc, None)


def test_non_table_result_when_outputs_are_declared() -> None:
    proc = procedure(outputs={"deployed": {"type": "boolean"}})
    with pytest.raises(ParamError, match=r"must return a table of outputs \(deployed\)"):
        check_outputs(proc, True)


# -- parse_field -------------------------------------------------------------------------------


def test_field_declaration_with_every_key() -> None:
    checked = parse_field(
        {"type": "string", "required": False, "default": "a", "description": "d", "enum": ["a"]}
        | {"input": "textarea", "rows": 3, "value": "a"}
    )
    assert checked.errors == []
    assert checked.warnings == []
    assert checked.spec == FieldSpec(
        type="string", default="a", description="d", enum=["a"], input="textarea", rows=3, value="a"
    )


def test_type_defaults_to_string() -> None:
    assert parse_field({}).spec == FieldSpec(type="string")


@pytest.mark.parametrize(
    ("written", "meant"), [("int", "integer"), ("bool", "boolean"), ("list", "array")]
)
def test_unknown_type_suggests_the_meant_one(written: str, meant: str) -> None:
    checked = parse_field({"type": written})
    assert checked.spec is None
    assert checked.errors == [
        f"unknown type {written!r} (did you mean {meant!r}? known: string, number, integer, "
        "boolean, array, object)"
    ]


def test_default_must_fit_type_and_enum() -> None:
    assert parse_field({"type": "number", "default": "3"}).errors == [
        'default expected a number, got string "3"'
    ]
    assert parse_field({"enum": ["a", "b"], "default": "c"}).errors == [
        'default "c" is not one of the choices ("a", "b")'
    ]
    assert parse_field({"type": "integer", "enum": [1, "two"]}).errors == [
        'enum choice expected an integer, got string "two"'
    ]
    assert parse_field({"enum": []}).errors == [
        "enum must be a non-empty list of choices, got array []"
    ]


def test_required_with_default_is_a_warning_in_both_dialects() -> None:
    yaml_style = parse_field({"required": True, "default": "x"})
    assert yaml_style.spec is not None and yaml_style.spec.default == "x"
    assert yaml_style.warnings == ["required has no effect because a default is given"]

    builder = parse_field({"required": True, "default": "x"}, drop_default_when_required=True)
    assert builder.spec is not None and builder.spec.default is None
    assert builder.warnings == ["default is ignored because required = true"]


def test_unknown_keys_are_dropped_with_a_warning() -> None:
    checked = parse_field({"type": "string", "label": "Host"})
    assert checked.spec == FieldSpec(type="string")
    assert checked.warnings == ["unknown key 'label' is ignored"]


def test_declaration_that_is_not_a_table() -> None:
    checked = parse_field("string")
    assert checked.spec is None
    assert checked.errors[0].startswith("must be a table of options")


def test_lua_empty_table_is_an_empty_array_default() -> None:
    checked = parse_field({"type": "array", "default": {}})
    assert checked.spec is not None and checked.spec.default == []


BIG = 99999999999999999999  # more than a Lua (64-bit) integer holds


def test_integers_outside_luas_range_are_refused_before_the_run() -> None:
    problems = param_problems(DEPLOY, {"service": "s", "replicas": str(BIG)}, from_strings=True)
    assert problems == [
        f"parameter 'replicas': {BIG} is outside the integer range a procedure can hold "
        "(-9223372036854775808 to 9223372036854775807)"
    ]
    assert param_problems(DEPLOY, {"service": "s", "replicas": -(2**63) - 1}, from_strings=False)
    assert param_problems(DEPLOY, {"service": "s", "replicas": "1e30"}, from_strings=True)
    edges = [2**63 - 1, -(2**63)]
    for edge in edges:
        values = coerce_params(DEPLOY, {"service": "s", "replicas": edge}, from_strings=False)
        assert values["replicas"] == edge


def test_a_number_too_large_for_an_integer_is_read_as_a_float() -> None:
    values = coerce_params(DEPLOY, {"service": "s", "ratio": str(BIG)}, from_strings=True)
    assert values["ratio"] == float(BIG) and isinstance(values["ratio"], float)


@pytest.mark.parametrize(
    ("labels", "shown"),
    [
        (f'{{"a": [1, {BIG}]}}', str(BIG)),
        ('{"a": NaN}', "nan is not a finite number"),
        ('{"a": {"b": -Infinity}}', "-inf is not a finite number"),
    ],
)
def test_values_inside_objects_and_arrays_must_fit_lua_too(labels: str, shown: str) -> None:
    [problem] = param_problems(DEPLOY, {"service": "s", "labels": labels}, from_strings=True)
    assert problem.startswith("parameter 'labels': ") and shown in problem


def test_json_nested_too_deeply_or_with_a_huge_integer_is_a_param_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    [problem] = param_problems(DEPLOY, {"service": "s", "labels": deep}, from_strings=True)
    assert "nested less deeply" in problem
    [problem] = param_problems(DEPLOY, {"service": "s", "labels": "1" * 5000}, from_strings=True)
    assert problem.startswith("parameter 'labels': expected JSON for an object")


def test_a_declared_default_outside_luas_range_is_a_declaration_error() -> None:
    check = parse_field({"type": "integer", "default": BIG})
    assert check.spec is None
    assert check.errors == [
        f"default {BIG} is outside the integer range a procedure can hold "
        "(-9223372036854775808 to 9223372036854775807)"
    ]
