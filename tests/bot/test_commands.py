"""`/procedure` text parsing: what people type, and what they are told when it is wrong."""

from __future__ import annotations

import pytest

from bot.commands import (
    Command,
    CommandError,
    help_text,
    missing_required,
    param_error_message,
    parse_command,
    unknown_params,
    unknown_procedure_message,
)
from runtime.errors import ParamError
from runtime.procedure import FieldSpec, Procedure, ProcedureFormat
from runtime.schema import coerce_params


def make_procedure(**params: FieldSpec) -> Procedure:
    return Procedure(
        procedure_id="deploy",
        name="Deploy",
        format=ProcedureFormat.PLEXUS_YAML,
        source_path="deploy.yaml",
        code="return params",
        params=params,
    )


def error_of(text: str, **kwargs: str) -> str:
    with pytest.raises(CommandError) as caught:
        parse_command(text, **kwargs)
    message = caught.value.message
    assert message == str(caught.value)
    assert message.count("\n") <= 1, "errors are one or two lines"
    return message


# -- the verbs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n", "help", "HELP", "help run", " Help "])
def test_empty_text_and_help_mean_help(text: str) -> None:
    assert parse_command(text) == Command("help")


def test_list() -> None:
    assert parse_command("list") == Command("list")
    assert parse_command("LIST") == Command("list")


def test_status_with_and_without_run() -> None:
    assert parse_command("status") == Command("status")
    assert parse_command("status 3f2a9c") == Command("status", run_id="3f2a9c")
    assert parse_command("status `3f2a9c`") == Command("status", run_id="3f2a9c")


def test_cancel() -> None:
    assert parse_command("cancel 3f2a9c") == Command("cancel", run_id="3f2a9c")
    assert parse_command("Cancel `abc`").run_id == "abc"


def test_run_with_name_only() -> None:
    assert parse_command("run deploy_approval") == Command("run", procedure="deploy_approval")


def test_run_keeps_the_procedure_name_as_typed() -> None:
    assert parse_command("RUN Deploy").procedure == "Deploy"


# -- key=value ----------------------------------------------------------------------------------


def params_of(text: str) -> dict[str, str]:
    command = parse_command(text)
    assert command.verb == "run"
    return command.params


def test_plain_params() -> None:
    assert params_of("run deploy env=prod version=2.1") == {"env": "prod", "version": "2.1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('run deploy note="ship it now"', {"note": "ship it now"}),
        ("run deploy note='ship it now'", {"note": "ship it now"}),
        ('run deploy "note=ship it"', {"note": "ship it"}),
        ('run deploy note="it\'s fine"', {"note": "it's fine"}),
        ("run deploy note='say \"hi\"'", {"note": 'say "hi"'}),
        ("run deploy a=\"x y\" b='z w' c=plain", {"a": "x y", "b": "z w", "c": "plain"}),
        ('run deploy note="  padded  "', {"note": "  padded  "}),
        ('run deploy note="two\nlines"', {"note": "two\nlines"}),
    ],
)
def test_quoted_values_keep_their_spaces(text: str, expected: dict[str, str]) -> None:
    assert params_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run deploy note=", {"note": ""}),
        ('run deploy note=""', {"note": ""}),
        ("run deploy note=''", {"note": ""}),
        ("run deploy a= b=1", {"a": "", "b": "1"}),
    ],
)
def test_empty_values(text: str, expected: dict[str, str]) -> None:
    assert params_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run deploy filter=a=b", {"filter": "a=b"}),
        ("run deploy expr==", {"expr": "="}),
        ("run deploy url=https://x.test/?a=1&b=2", {"url": "https://x.test/?a=1&b=2"}),
        ('run deploy query="x = 1 AND y=2"', {"query": "x = 1 AND y=2"}),
    ],
)
def test_values_may_contain_equals(text: str, expected: dict[str, str]) -> None:
    assert params_of(text) == expected


def test_unicode_keys_and_values() -> None:
    assert params_of('run déploiement note="ça marche ✓" 名前=値 emoji=🚀') == {
        "note": "ça marche ✓",
        "名前": "値",
        "emoji": "🚀",
    }
    assert parse_command("run déploiement").procedure == "déploiement"


def test_the_word_payload_is_just_text() -> None:
    command = parse_command('run payload note="show payload" payload=payload')
    assert command == Command(
        "run", procedure="payload", params={"note": "show payload", "payload": "payload"}
    )
    assert parse_command("status payload").run_id == "payload"
    assert "payload" in error_of("payload")


def test_backslashes_are_kept() -> None:
    assert params_of(r"run deploy path=C:\temp\new pattern=\d+") == {
        "path": r"C:\temp\new",
        "pattern": r"\d+",
    }


def test_curly_double_quotes_work_like_straight_ones() -> None:
    assert params_of("run deploy note=“ship it”") == {"note": "ship it"}


def test_curly_apostrophes_are_text() -> None:
    assert params_of("run deploy note=don’t") == {"note": "don’t"}


def test_slack_html_escapes_are_undone() -> None:
    assert params_of("run deploy cond=a&amp;b cmp=&lt;3&gt;") == {"cond": "a&b", "cmp": "<3>"}


def test_unusual_whitespace_separates_words() -> None:
    assert params_of("run\u00a0deploy\tenv=prod\n version=2") == {"env": "prod", "version": "2"}


# -- errors -------------------------------------------------------------------------------------


def test_unknown_verb_suggests_the_closest() -> None:
    assert (
        error_of("rn deploy") == "Unknown command `rn`. Did you mean `run`? Try `/procedure help`."
    )
    assert "Did you mean `status`?" in error_of("stauts")
    assert "Did you mean `cancel`?" in error_of("cancle x")


@pytest.mark.parametrize(("word", "verb"), [("start", "run"), ("stop", "cancel"), ("ls", "list")])
def test_unknown_verb_maps_common_synonyms(word: str, verb: str) -> None:
    assert f"Did you mean `{verb}`?" in error_of(f"{word} x")


def test_unknown_verb_that_is_a_procedure_name() -> None:
    message = error_of("deploy_approval env=prod")
    assert "Unknown command `deploy_approval`" in message
    assert "`/procedure run deploy_approval`" in message


def test_unknown_verb_that_looks_like_a_param() -> None:
    message = error_of("env=prod")
    assert "`/procedure run <name> key=value`" in message


def test_messages_use_the_configured_command_name() -> None:
    assert error_of("rn", command_name="/hitl").endswith("Try `/hitl help`.")
    assert "`/hitl run <name>" in error_of("run", command_name="/hitl")


def test_run_without_a_name() -> None:
    message = error_of("run")
    assert message.startswith("Missing procedure name.")
    assert "`/procedure run <name> [key=value ...]`" in message
    assert "`/procedure list`" in message


def test_run_with_a_param_where_the_name_belongs() -> None:
    assert "procedure name comes first" in error_of("run env=prod")


@pytest.mark.parametrize(
    ("text", "quote"), [('run deploy note="ship it', '"'), ("run deploy note='ship it", "'")]
)
def test_unbalanced_quote(text: str, quote: str) -> None:
    message = error_of(text)
    assert message.startswith(f"Unbalanced quote: the {quote} in `{quote}ship it` is never closed")
    assert "Close it" in message


def test_unbalanced_quote_in_a_long_text_is_shown_shortened() -> None:
    message = error_of('run deploy note="' + "x" * 100)
    assert "…" in message
    assert len(message) < 300


def test_apostrophe_in_an_unquoted_value_is_an_unbalanced_quote() -> None:
    message = error_of("run deploy note=don't")
    assert "the ' in `'t` is never closed" in message
    assert "wrap a value containing ' in \" quotes" in message


def test_a_word_that_is_not_key_value() -> None:
    message = error_of("run deploy prod")
    assert message.startswith("`prod` is not a parameter: write parameters as key=value")
    assert "`env=prod`" in message


@pytest.mark.parametrize("text", ["run deploy env = prod", "run deploy env =prod"])
def test_spaces_around_equals(text: str) -> None:
    assert "spaces around `=`" in error_of(text)


def test_space_after_equals() -> None:
    message = error_of("run deploy note= ship")
    assert "Remove the space after `=` (`note=ship`)" in message
    assert 'note="a b"' in message


def test_value_without_a_key() -> None:
    assert error_of("run deploy =prod") == (
        "`=prod` has no parameter name before `=`: write `key=value`."
    )


def test_duplicate_key() -> None:
    message = error_of("run deploy env=prod env=staging")
    assert message == (
        "Parameter `env` is given twice (`env=prod` and `env=staging`). Give each parameter once."
    )


def test_list_takes_no_arguments() -> None:
    assert error_of("list everything") == "`list` takes no arguments. Type `/procedure list`."


def test_status_takes_at_most_one_run() -> None:
    assert "at most one run id" in error_of("status a b")


def test_cancel_needs_exactly_one_run() -> None:
    # Escaped: Slack would read a bare <run> as a link, even inside backticks.
    assert error_of("cancel").startswith("Missing run id. Usage: `/procedure cancel &lt;run&gt;`")
    assert "takes one run id, got 2" in error_of("cancel a b")


# -- replies ------------------------------------------------------------------------------------


def test_help_text_names_every_verb_with_the_command() -> None:
    text = help_text("/hitl")
    for verb in ("run", "list", "status", "cancel", "help"):
        assert f"`/hitl {verb}" in text
    assert 'note="ship it"' in text


def test_missing_required() -> None:
    procedure = make_procedure(
        env=FieldSpec(required=True),
        count=FieldSpec(type="integer", required=True, default=1),
        baked=FieldSpec(required=True, value="x"),
        note=FieldSpec(),
        ticket=FieldSpec(required=True),
    )
    assert missing_required(procedure, {}) == ["env", "ticket"]
    assert missing_required(procedure, {"env": "prod", "ticket": "  "}) == ["ticket"]
    assert missing_required(procedure, {"env": "prod", "ticket": "T-1"}) == []


def test_unknown_params() -> None:
    procedure = make_procedure(env=FieldSpec())
    assert unknown_params(procedure, {"env": "x", "evn": "y"}) == ["evn"]


def test_unknown_procedure_message() -> None:
    known = ["deploy_approval", "content_review"]
    assert unknown_procedure_message("deploy_aproval", known) == (
        "Unknown procedure `deploy_aproval`. Did you mean `deploy_approval`? "
        "`/procedure list` shows all."
    )
    assert "`/procedure list` shows the procedures" in unknown_procedure_message("zzz", known)
    assert "no procedures are loaded" in unknown_procedure_message("x", [])


def test_param_error_message_lists_every_problem() -> None:
    procedure = make_procedure(count=FieldSpec(type="integer"), env=FieldSpec(required=True))
    with pytest.raises(ParamError) as caught:
        coerce_params(procedure, {"count": "many", "evn": "x"}, from_strings=True)
    message = param_error_message(procedure, caught.value, command_name="/hitl")
    lines = message.splitlines()
    assert lines[0] == "Cannot start `deploy`:"
    assert "• unknown parameter `evn` (did you mean 'env'? known: count, env)" in lines
    assert "• `count`: expected an integer, got 'many'" in lines
    assert "• `env` is required (string)" in lines
    assert lines[-1] == "Fix the values and try again: `/hitl run deploy key=value ...`."
