"""The param form: built from the schema, valid Block Kit, and its submission coerces back.

Submissions are simulated with devslack's own element helpers (what its Slack client puts in
`view.state.values`), so a round trip here is the round trip the bot sees.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.param_form import (
    CALLBACK_PARAMS,
    ParamFormError,
    check_param_submission,
    errors_by_block,
    param_errors,
    param_modal,
    parse_param_submission,
    read_metadata,
    visible_params,
)
from devslack.blockkit import validate_view
from devslack.elements import (
    client_side_errors,
    convert_value,
    initial_value,
    iter_elements,
    state_entry,
)
from runtime.errors import ParamError
from runtime.loader import load_catalog
from runtime.procedure import FieldSpec, Procedure, ProcedureFormat
from runtime.schema import coerce_params


def make_procedure(name: str = "Deploy", **params: FieldSpec) -> Procedure:
    return Procedure(
        procedure_id="deploy",
        name=name,
        description="Ship a service.",
        format=ProcedureFormat.PLEXUS_YAML,
        source_path="deploy.yaml",
        code="return params",
        params=params,
    )


def modal(procedure: Procedure, given: dict[str, Any] | None = None, **kwargs: Any) -> dict:
    view = param_modal(procedure, given or {}, channel="C1", user="U1", **kwargs)
    assert validate_view(view) == []
    return view


def field(view: dict, name: str) -> dict:
    blocks = [b for b in view["blocks"] if b.get("block_id") == f"param:{name}"]
    assert len(blocks) == 1, f"no field {name}"
    return blocks[0]


def input_names(view: dict) -> list[str]:
    return [b["block_id"].removeprefix("param:") for b in view["blocks"] if b["type"] == "input"]


def slack_state(view: dict, typed: dict[str, Any] | None = None) -> dict[str, Any]:
    """`view.state.values` as Slack sends it on submit: every input's value, the starting
    value where the user typed nothing. Fails like the Slack client on an empty required
    field."""
    typed = typed or {}
    values: dict[str, Any] = {}
    for block, element in iter_elements(view["blocks"]):
        if block["type"] != "input":
            continue
        name = block["block_id"].removeprefix("param:")
        if name in typed:
            value = convert_value(element, typed[name], resolve_user=str, resolve_channel=str)
        else:
            value = initial_value(element)
        problem = client_side_errors(element, value, bool(block.get("optional")))
        assert problem is None, f"{name}: {problem}"
        values[block["block_id"]] = {element["action_id"]: state_entry(element, value)}
    return values


def round_trip(
    procedure: Procedure, typed: dict[str, Any] | None = None, given: dict | None = None
) -> dict[str, Any]:
    view = modal(procedure, given)
    raw = parse_param_submission(
        procedure, slack_state(view, typed), private_metadata=view["private_metadata"]
    )
    return coerce_params(procedure, raw, from_strings=True)


# -- the modal ----------------------------------------------------------------------------------


def test_modal_frame() -> None:
    view = modal(make_procedure(env=FieldSpec(required=True)))
    assert view["type"] == "modal"
    assert view["callback_id"] == CALLBACK_PARAMS == "run_params"
    assert view["title"] == {"type": "plain_text", "text": "Run Deploy"}
    assert view["submit"]["text"] == "Run"
    assert json.loads(view["private_metadata"]) == {
        "procedure_id": "deploy",
        "channel": "C1",
        "user": "U1",
    }
    assert view["blocks"][0] == {
        "type": "section",
        "text": {"type": "plain_text", "text": "Ship a service."},
    }
    block = field(view, "env")
    assert block["element"]["action_id"] == "value"
    assert block["label"]["text"] == "env"


def test_long_procedure_names_are_cut_to_the_title_limit() -> None:
    view = modal(make_procedure(name="Quarterly infrastructure cost review", env=FieldSpec()))
    title = view["title"]["text"]
    assert len(title) <= 24
    assert title.startswith("Run Quarterly") and title.endswith("…")


def test_string_field() -> None:
    block = field(modal(make_procedure(env=FieldSpec(default="staging"))), "env")
    assert block["element"] == {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": False,
        "initial_value": "staging",
    }
    assert block["optional"] is True


@pytest.mark.parametrize(
    "spec",
    [
        FieldSpec(input="textarea"),
        FieldSpec(rows=6),
        FieldSpec(default="line one\nline two"),
        FieldSpec(default="x" * 200),
    ],
)
def test_long_text_fields_are_multiline(spec: FieldSpec) -> None:
    assert field(modal(make_procedure(notes=spec)), "notes")["element"]["multiline"] is True


def test_required_without_default_is_required_and_empty() -> None:
    block = field(modal(make_procedure(ticket=FieldSpec(required=True))), "ticket")
    assert block["optional"] is False
    assert "initial_value" not in block["element"]


def test_required_with_default_is_prefilled_and_stays_required() -> None:
    block = field(modal(make_procedure(env=FieldSpec(required=True, default="prod"))), "env")
    assert block["optional"] is False
    assert block["element"]["initial_value"] == "prod"


def test_default_too_long_to_show_is_left_out_and_the_field_optional() -> None:
    procedure = make_procedure(notes=FieldSpec(required=True, default="n" * 3500))
    block = field(modal(procedure), "notes")
    assert "initial_value" not in block["element"]
    assert block["optional"] is True
    assert "Leave empty to use the default" in block["hint"]["text"]
    assert round_trip(procedure) == {"notes": "n" * 3500}


def test_descriptions_are_hints() -> None:
    view = modal(make_procedure(env=FieldSpec(description="Where to deploy"), bare=FieldSpec()))
    assert field(view, "env")["hint"] == {"type": "plain_text", "text": "Where to deploy"}
    assert "hint" not in field(view, "bare")


def test_very_long_descriptions_are_cut() -> None:
    view = modal(make_procedure(env=FieldSpec(description="d" * 5000)))
    assert len(field(view, "env")["hint"]["text"]) == 2000


@pytest.mark.parametrize(("type_", "decimals"), [("number", True), ("integer", False)])
def test_number_fields(type_: str, decimals: bool) -> None:
    block = field(modal(make_procedure(n=FieldSpec(type=type_, default=3))), "n")
    assert block["element"] == {
        "type": "number_input",
        "action_id": "value",
        "is_decimal_allowed": decimals,
        "initial_value": "3",
    }


@pytest.mark.parametrize(
    ("default", "shown"),
    [(0.25, "0.25"), (1e-05, "0.00001"), (-2.0, "-2"), (1.5e10, "15000000000")],
)
def test_number_defaults_are_written_without_exponents(default: float, shown: str) -> None:
    block = field(modal(make_procedure(rate=FieldSpec(type="number", default=default))), "rate")
    assert block["element"]["initial_value"] == shown


def test_boolean_field_is_one_optional_checkbox() -> None:
    view = modal(
        make_procedure(
            dry_run=FieldSpec(type="boolean", default=True, description="Only print"),
            force=FieldSpec(type="boolean", required=True),
        )
    )
    dry_run, force = field(view, "dry_run"), field(view, "force")
    assert dry_run["element"]["type"] == "checkboxes"
    assert len(dry_run["element"]["options"]) == 1
    assert dry_run["element"]["initial_options"] == dry_run["element"]["options"]
    assert dry_run["hint"]["text"] == "Only print"
    assert "initial_options" not in force["element"]
    assert dry_run["optional"] is True and force["optional"] is True  # unchecked means false


def test_enum_field_is_a_select_starting_at_the_default() -> None:
    spec = FieldSpec(enum=["staging", "production"], default="production")
    element = field(modal(make_procedure(env=spec)), "env")["element"]
    assert element["type"] == "static_select"
    assert [o["value"] for o in element["options"]] == ["staging", "production"]
    assert element["initial_option"]["value"] == "production"


def test_enum_select_starts_at_the_given_value() -> None:
    spec = FieldSpec(enum=["staging", "production"], default="production")
    element = field(modal(make_procedure(env=spec), {"env": "staging"}), "env")["element"]
    assert element["initial_option"]["value"] == "staging"


def test_enum_of_numbers() -> None:
    procedure = make_procedure(level=FieldSpec(type="integer", enum=[1, 2, 3], default=2))
    element = field(modal(procedure), "level")["element"]
    assert element["initial_option"]["value"] == "2"
    assert round_trip(procedure) == {"level": 2}
    assert round_trip(procedure, {"level": "3"}) == {"level": 3}


def test_enum_choices_too_long_for_an_option_value_use_their_index() -> None:
    long_choice = "c" * 200
    procedure = make_procedure(pick=FieldSpec(enum=["short", long_choice], required=True))
    element = field(modal(procedure), "pick")["element"]
    assert element["options"][1]["value"] == "#1"
    assert len(element["options"][1]["text"]["text"]) == 75
    assert round_trip(procedure, {"pick": "#1"}) == {"pick": long_choice}


def test_enum_with_more_choices_than_a_select_holds_is_a_text_field() -> None:
    choices = [f"c{i}" for i in range(150)]
    procedure = make_procedure(pick=FieldSpec(enum=choices, required=True))
    block = field(modal(procedure), "pick")
    assert block["element"]["type"] == "plain_text_input"
    assert block["hint"]["text"].startswith("One of: c0, c1")
    assert round_trip(procedure, {"pick": "c120"}) == {"pick": "c120"}


def test_array_field_is_one_item_per_line() -> None:
    spec = FieldSpec(type="array", default=["api", "web"], description="Services")
    block = field(modal(make_procedure(services=spec)), "services")
    assert block["element"]["type"] == "plain_text_input"
    assert block["element"]["multiline"] is True
    assert block["element"]["initial_value"] == "api\nweb"
    assert block["hint"]["text"] == "Services One item per line."


def test_array_with_enum_is_a_multi_select() -> None:
    spec = FieldSpec(type="array", enum=["eu", "us", "ap"], default=["eu", "ap"])
    procedure = make_procedure(regions=spec)
    element = field(modal(procedure), "regions")["element"]
    assert element["type"] == "multi_static_select"
    assert [o["value"] for o in element["initial_options"]] == ["eu", "ap"]
    assert round_trip(procedure) == {"regions": ["eu", "ap"]}
    assert round_trip(procedure, {"regions": ["us"]}) == {"regions": ["us"]}


def test_object_field_is_json_text() -> None:
    spec = FieldSpec(type="object", default={"replicas": 2})
    element = field(modal(make_procedure(extra=spec)), "extra")["element"]
    assert element["multiline"] is True
    assert json.loads(element["initial_value"]) == {"replicas": 2}


def test_hidden_fields_are_left_out() -> None:
    procedure = make_procedure(
        env=FieldSpec(),
        token=FieldSpec(input="hidden", default="t"),
        secret=FieldSpec(input="hidden"),
    )
    assert input_names(modal(procedure)) == ["env"]


def test_hidden_required_field_with_nothing_to_fall_back_on_is_shown() -> None:
    procedure = make_procedure(key=FieldSpec(input="hidden", required=True))
    assert input_names(modal(procedure)) == ["key"]
    assert visible_params(procedure, {"key": "given"}) == []


def test_values_given_for_hidden_fields_travel_in_the_metadata() -> None:
    procedure = make_procedure(
        env=FieldSpec(required=True), token=FieldSpec(input="hidden", required=True)
    )
    view = modal(procedure, {"token": "abc", "env": "prod", "unknown": "x"})
    assert input_names(view) == ["env"]
    meta = read_metadata(view["private_metadata"])
    assert meta["given"] == {"token": "abc"}
    assert round_trip(procedure, given={"token": "abc", "env": "prod"}) == {
        "env": "prod",
        "token": "abc",
    }


def test_a_procedure_without_params_still_gets_a_valid_form() -> None:
    view = modal(make_procedure())
    assert input_names(view) == []
    assert "takes no parameters" in view["blocks"][0]["text"]["text"]
    assert round_trip(make_procedure()) == {}


def test_a_hundred_fields_fit_without_the_intro() -> None:
    procedure = make_procedure(**{f"p{i}": FieldSpec() for i in range(100)})
    view = modal(procedure)
    assert len(view["blocks"]) == 100
    assert view["blocks"][0]["type"] == "input"


def test_more_fields_than_a_modal_holds_is_a_clear_error() -> None:
    procedure = make_procedure(**{f"p{i}": FieldSpec() for i in range(101)})
    with pytest.raises(ParamFormError) as caught:
        param_modal(procedure, {}, channel="C1", user="U1")
    assert "101 parameters" in str(caught.value)
    assert "`/procedure run deploy key=value ...`" in str(caught.value)


def test_given_values_are_prefilled_over_defaults() -> None:
    procedure = make_procedure(
        env=FieldSpec(default="staging"),
        count=FieldSpec(type="integer", default=1),
        rate=FieldSpec(type="number"),
        force=FieldSpec(type="boolean", default=True),
        services=FieldSpec(type="array"),
        extra=FieldSpec(type="object"),
    )
    given = {
        "env": "prod",
        "count": "5",
        "rate": "0.5",
        "force": "no",
        "services": "api, web",
        "extra": '{"a": 1}',
    }
    view = modal(procedure, given)
    assert field(view, "env")["element"]["initial_value"] == "prod"
    assert field(view, "count")["element"]["initial_value"] == "5"
    assert field(view, "rate")["element"]["initial_value"] == "0.5"
    assert "initial_options" not in field(view, "force")["element"]
    assert field(view, "services")["element"]["initial_value"] == "api\nweb"
    assert json.loads(field(view, "extra")["element"]["initial_value"]) == {"a": 1}
    assert round_trip(procedure, given=given) == {
        "env": "prod",
        "count": 5,
        "rate": 0.5,
        "force": False,
        "services": ["api", "web"],
        "extra": {"a": 1},
    }


@pytest.mark.parametrize(
    ("spec", "given", "warning"),
    [
        (FieldSpec(type="integer", default=2), "many", "'many' was not used: expected an integer."),
        (FieldSpec(type="integer"), "2.5", "'2.5' was not used: expected an integer."),
        (FieldSpec(type="number"), "fast", "'fast' was not used: expected a number."),
        (FieldSpec(type="boolean"), "maybe", "'maybe' was not used: expected true or false."),
        (FieldSpec(type="object"), "{oops", "'{oops' was not used: expected JSON."),
        (FieldSpec(enum=["a", "b"]), "c", "'c' was not used: not one of the choices."),
    ],
)
def test_given_values_that_do_not_fit_are_explained_in_the_hint(
    spec: FieldSpec, given: str, warning: str
) -> None:
    block = field(modal(make_procedure(x=spec), {"x": given}), "x")
    assert block["hint"]["text"].startswith(f"⚠️ {warning}")
    element = block["element"]
    assert "initial_option" not in element
    if spec.default is not None:
        assert element["initial_value"] == "2"
    else:
        assert "initial_value" not in element


def test_errors_are_shown_in_the_hints() -> None:
    procedure = make_procedure(env=FieldSpec(description="Where"), n=FieldSpec(type="integer"))
    view = modal(procedure, errors={"param:env": "Unknown environment.", "n": "Too big."})
    assert field(view, "env")["hint"]["text"] == "⚠️ Unknown environment. Where"
    assert field(view, "n")["hint"]["text"] == "⚠️ Too big."


def test_every_example_procedure_builds_a_valid_form() -> None:
    catalog = load_catalog("examples")
    assert catalog.procedures
    for procedure in catalog.procedures.values():
        view = modal(procedure)
        assert input_names(view)
        coerce_params(
            procedure,
            parse_param_submission(procedure, slack_state(view)),
            from_strings=True,
        )


# -- round trips --------------------------------------------------------------------------------


ALL_TYPES = {
    "title": FieldSpec(required=True, description="Short title"),
    "notes": FieldSpec(input="textarea", rows=4),
    "count": FieldSpec(type="integer", default=3),
    "rate": FieldSpec(type="number", required=True),
    "dry_run": FieldSpec(type="boolean", default=True),
    "env": FieldSpec(enum=["staging", "production"], default="staging"),
    "services": FieldSpec(type="array"),
    "extra": FieldSpec(type="object", default={"a": 1}),
    "token": FieldSpec(input="hidden", default="t0"),
}


def test_round_trip_with_defaults_only() -> None:
    procedure = make_procedure(**ALL_TYPES)
    assert round_trip(procedure, {"title": "Ship", "rate": "0.5"}) == {
        "title": "Ship",
        "count": 3,
        "rate": 0.5,
        "dry_run": True,
        "env": "staging",
        "extra": {"a": 1},
        "token": "t0",
    }


def test_round_trip_with_every_field_changed() -> None:
    procedure = make_procedure(**ALL_TYPES)
    typed = {
        "title": "Ship «now» 🚀",
        "notes": "line one\nline two, with a comma",
        "count": "12",
        "rate": "-2.75",
        "dry_run": [],
        "env": "production",
        "services": "api\n  web, edge  \n\n",
        "extra": '{"replicas": 4, "tags": ["x"]}',
    }
    assert round_trip(procedure, typed) == {
        "title": "Ship «now» 🚀",
        "notes": "line one\nline two, with a comma",
        "count": 12,
        "rate": -2.75,
        "dry_run": False,
        "env": "production",
        "services": ["api", "web, edge"],
        "extra": {"replicas": 4, "tags": ["x"]},
        "token": "t0",
    }


def test_array_field_accepts_a_json_array() -> None:
    procedure = make_procedure(ids=FieldSpec(type="array"))
    assert round_trip(procedure, {"ids": '[1, 2, "three"]'}) == {"ids": [1, 2, "three"]}


def test_array_default_with_non_strings_is_shown_as_json_and_survives() -> None:
    procedure = make_procedure(ids=FieldSpec(type="array", default=[1, 2]))
    element = field(modal(procedure), "ids")["element"]
    assert element["initial_value"] == "[1, 2]"
    assert round_trip(procedure) == {"ids": [1, 2]}


def test_checked_checkbox_is_true() -> None:
    procedure = make_procedure(force=FieldSpec(type="boolean"))
    assert round_trip(procedure, {"force": ["true"]}) == {"force": True}
    assert round_trip(procedure) == {"force": False}


def test_parse_returns_raw_strings() -> None:
    procedure = make_procedure(**ALL_TYPES)
    view = modal(procedure)
    state = slack_state(view, {"title": "t", "rate": "1.5", "services": "a\nb", "dry_run": []})
    raw = parse_param_submission(procedure, state)
    assert raw == {  # empty "notes" is left out so a default could apply; "token" is hidden
        "title": "t",
        "count": "3",
        "rate": "1.5",
        "dry_run": "false",
        "env": "staging",
        "services": ["a", "b"],
        "extra": json.dumps({"a": 1}, indent=2),
    }


# -- errors -------------------------------------------------------------------------------------


def entry(kind: str, **fields: Any) -> dict[str, Any]:
    return {"value": {"type": kind, **fields}}


def test_param_errors_maps_each_problem_to_its_field() -> None:
    procedure = make_procedure(
        count=FieldSpec(type="integer"),
        ticket=FieldSpec(required=True, description="Change ticket"),
        extra=FieldSpec(type="object"),
        env=FieldSpec(enum=["staging", "production"]),
    )
    state = {
        "param:count": entry("number_input", value="2.5"),
        "param:ticket": entry("plain_text_input", value="   "),
        "param:extra": entry("plain_text_input", value="{not json"),
        "param:env": entry("static_select", selected_option={"text": {}, "value": "prod"}),
    }
    errors = param_errors(procedure, state)
    assert set(errors) == {"param:count", "param:ticket", "param:extra", "param:env"}
    assert errors["param:count"] == "Expected an integer, got '2.5'."
    assert errors["param:ticket"] == "This field is required (string: Change ticket)."
    assert errors["param:extra"].startswith("Expected JSON for an object, got '{not json'")
    assert errors["param:env"] == '"prod" is not one of the choices ("staging", "production").'


def test_param_errors_is_empty_when_valid() -> None:
    procedure = make_procedure(count=FieldSpec(type="integer"))
    state = {"param:count": entry("number_input", value="7")}
    assert param_errors(procedure, state) == {}
    assert check_param_submission(procedure, state) == ({"count": 7}, {})


def test_check_param_submission_returns_errors_and_no_values() -> None:
    procedure = make_procedure(count=FieldSpec(type="integer"))
    state = {"param:count": entry("number_input", value="x")}
    assert check_param_submission(procedure, state) == (
        None,
        {"param:count": "Expected an integer, got 'x'."},
    )


def test_problems_of_fields_not_in_the_form_go_on_the_first_field() -> None:
    procedure = make_procedure(
        env=FieldSpec(), token=FieldSpec(type="integer", input="hidden", default=1)
    )
    view = modal(procedure, {"token": "abc"})
    state = slack_state(view)
    errors = param_errors(procedure, state, private_metadata=view["private_metadata"])
    assert errors == {"param:env": "Parameter 'token': expected an integer, got 'abc'."}


def test_problems_with_no_field_to_show_them_on_are_raised() -> None:
    procedure = make_procedure(token=FieldSpec(type="integer", input="hidden", default=1))
    view = modal(procedure, {"token": "abc"})
    with pytest.raises(ParamError):
        param_errors(procedure, {}, private_metadata=view["private_metadata"])


def test_errors_by_block_joins_several_problems_of_one_field() -> None:
    procedure = make_procedure(tags=FieldSpec(type="array", enum=["a", "b"]))
    error = ParamError("parameter 'tags': x\nparameter 'tags': y\nunknown parameter 'q'")
    assert errors_by_block(procedure, error) == {"param:tags": "X. Y. Unknown parameter 'q'."}
    assert errors_by_block(procedure, error, []) == {}


def test_param_names_that_prefix_each_other_are_told_apart() -> None:
    procedure = make_procedure(a=FieldSpec(), ab=FieldSpec())
    error = ParamError("parameter 'ab': bad\nparameter 'a' is required (string)")
    assert errors_by_block(procedure, error) == {
        "param:ab": "Bad.",
        "param:a": "This field is required (string).",
    }


def test_read_metadata_is_forgiving() -> None:
    assert read_metadata(None) == {}
    assert read_metadata("not json") == {}
    assert read_metadata("[1]") == {}
    assert read_metadata({"procedure_id": "x"}) == {"procedure_id": "x"}


def test_parameter_names_too_long_for_a_block_id_are_a_clear_error() -> None:
    procedure = make_procedure(**{"n" * 300: FieldSpec()})
    with pytest.raises(ParamFormError, match="too long for a Slack form"):
        param_modal(procedure, {}, channel="C1", user="U1")


def test_an_integer_too_large_for_a_procedure_is_an_error_on_its_field() -> None:
    procedure = make_procedure(count=FieldSpec(type="integer"), title=FieldSpec(required=True))
    state = {
        "param:count": entry("number_input", value="99999999999999999999"),
        "param:title": entry("plain_text_input", value="x"),
    }
    assert check_param_submission(procedure, state) == (
        None,
        {
            "param:count": "99999999999999999999 is outside the integer range a procedure can "
            "hold (-9223372036854775808 to 9223372036854775807)."
        },
    )
    block = field(modal(procedure, {"count": "99999999999999999999"}), "count")
    assert block["hint"]["text"].startswith("⚠️ '99999999999999999999' was not used: ")
    assert "initial_value" not in block["element"]
