"""The `/procedure` slash command: what a person typed, read into a `Command`.

Slack hands the bot one line of free text. People type it in a hurry, on phones, pasting
values copied from elsewhere, so the parser is forgiving where it can be (verbs in any case,
curly quotes, Slack's HTML escaping) and precise where it cannot: every `CommandError` says in
one or two lines what is wrong and what to type instead. Parsing is pure; the listeners decide
what to do with the result.

Grammar (words split like a shell, without backslash escapes)::

    run <name> [key=value ...]    key="a b" and key='x y' keep spaces; key= is an empty value;
                                  a value may itself contain "=" (only the first one splits)
    list
    status [run]
    cancel <run>
    help                          (also what an empty text means)
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from runtime.errors import HitlbotError, ParamError
from runtime.procedure import Procedure

DEFAULT_COMMAND = "/procedure"
VERBS: tuple[str, ...] = ("run", "list", "status", "cancel", "help")

# Words people reach for instead of ours; only ever used to suggest, never run.
_SYNONYMS = {
    "start": "run",
    "exec": "run",
    "execute": "run",
    "launch": "run",
    "ls": "list",
    "procedures": "list",
    "show": "status",
    "info": "status",
    "runs": "status",
    "stop": "cancel",
    "abort": "cancel",
    "kill": "cancel",
    "?": "help",
    "usage": "help",
}
# Slack escapes these three in command text (and nothing else); people typed the characters.
_SLACK_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# Phones and word processors turn " into curly quotes; single curly quotes are left alone
# because ’ is usually an apostrophe (don’t), not a quote.
_CURLY_DOUBLE = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})
_EXTRA_SPACES = "\u00a0\u2007\u202f\u3000"


class CommandError(HitlbotError):
    """The text is not a command we understand; `message` is the reply, ready to show."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class Command:
    """One parsed `/procedure` invocation."""

    verb: str  # "run" | "list" | "status" | "cancel" | "help"
    procedure: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None


# -- parsing ------------------------------------------------------------------------------------


def parse_command(text: str, *, command_name: str = DEFAULT_COMMAND) -> Command:
    """Read the text after the slash command; raises `CommandError` with a helpful reply.

    `command_name` only shapes the messages (the command is configurable).
    """
    words = split_words(text or "")
    if not words:
        return Command("help")
    verb = words[0].lower()
    if verb not in VERBS:
        raise CommandError(_unknown_verb(words[0], command_name))
    args = words[1:]
    if verb == "run":
        return _parse_run(args, command_name)
    if verb == "list":
        if args:
            raise CommandError(f"`list` takes no arguments. Type `{command_name} list`.")
        return Command("list")
    if verb == "status":
        return _parse_status(args, command_name)
    if verb == "cancel":
        return _parse_cancel(args, command_name)
    return Command("help")


def split_words(text: str) -> list[str]:
    """Split like a shell (quotes group, are removed, may start mid-word) but without
    backslash escapes: Slack users paste Windows paths and regexes, not shell scripts."""
    text = _normalise(text)
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.whitespace += _EXTRA_SPACES
    lexer.commenters = ""
    lexer.escape = ""
    try:
        return list(lexer)
    except ValueError:
        raise CommandError(_unclosed_quote(text)) from None


def _normalise(text: str) -> str:
    for escaped, plain in _SLACK_ESCAPES:
        text = text.replace(escaped, plain)
    return text.translate(_CURLY_DOUBLE).strip()


def _unclosed_quote(text: str) -> str:
    """Name the quote that is never closed and show where it opens."""
    quote, start = "", 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote, start = char, index
    snippet = text[start : start + 30] + ("…" if len(text) > start + 30 else "")
    other = "'" if quote == '"' else '"'
    return (
        f"Unbalanced quote: the {quote} in `{snippet}` is never closed. "
        f"Close it (key={quote}a b{quote}), or wrap a value containing {quote} in {other} quotes."
    )


def _unknown_verb(word: str, command_name: str) -> str:
    lowered = word.lower()
    guess = _SYNONYMS.get(lowered) or next(
        iter(difflib.get_close_matches(lowered, VERBS, n=1, cutoff=0.5)), None
    )
    if guess:
        return f"Unknown command `{word}`. Did you mean `{guess}`? Try `{command_name} help`."
    if "=" in word:
        return (
            f"Unknown command `{word}`. Start a procedure with "
            f"`{command_name} run <name> key=value`; see `{command_name} help`."
        )
    return (
        f"Unknown command `{word}`. To start a procedure type `{command_name} run {word}`; "
        f"commands are {', '.join(VERBS)} (see `{command_name} help`)."
    )


def _parse_run(args: list[str], command_name: str) -> Command:
    usage = f"`{command_name} run <name> [key=value ...]`"
    if not args or not args[0].strip():
        raise CommandError(
            f"Missing procedure name. Usage: {usage}; `{command_name} list` shows the names."
        )
    name = args[0]
    if "=" in name:
        raise CommandError(
            f"`{name}` looks like a parameter, but the procedure name comes first. Usage: {usage}."
        )
    return Command("run", procedure=name, params=parse_params(args[1:]))


def parse_params(words: list[str]) -> dict[str, str]:
    """`key=value` words into a dict; every mistake gets a message saying how to write it."""
    params: dict[str, str] = {}
    for index, word in enumerate(words):
        key, sep, value = word.partition("=")
        if not sep:
            raise CommandError(_not_key_value(words, index))
        if not key.strip():
            raise CommandError(_missing_key(words, index))
        if key in params:
            raise CommandError(
                f"Parameter `{key}` is given twice (`{key}={params[key]}` and `{word}`). "
                "Give each parameter once."
            )
        params[key] = value
    return params


def _not_key_value(words: list[str], index: int) -> str:
    word = words[index]
    before = words[index - 1] if index else ""
    after = words[index + 1] if index + 1 < len(words) else ""
    if after.startswith("="):
        value = after[1:] or (words[index + 2] if index + 2 < len(words) else "&lt;value&gt;")
        return f"Remove the spaces around `=`: write `{word}={value}`."
    if before.endswith("=") and before.count("=") == 1:
        return (
            f"`{word}` is not a parameter. Remove the space after `=` (`{before}{word}`), "
            f'or quote a value with spaces: {before}"a b".'
        )
    return (
        f"`{word}` is not a parameter: write parameters as key=value (e.g. `env={word}`), "
        'and quote values with spaces: key="a b".'
    )


def _missing_key(words: list[str], index: int) -> str:
    word = words[index]
    if word == "=":
        return "Remove the spaces around `=`: write parameters as `key=value`."
    return f"`{word}` has no parameter name before `=`: write `key=value`."


def _parse_status(args: list[str], command_name: str) -> Command:
    if len(args) > 1:
        raise CommandError(
            f"`status` takes at most one run id, got {len(args)}. "
            f"Usage: `{command_name} status [run]`."
        )
    return Command("status", run_id=_run_id(args[0]) if args else None)


def _parse_cancel(args: list[str], command_name: str) -> Command:
    usage = f"`{command_name} cancel &lt;run&gt;`"
    if not args:
        raise CommandError(f"Missing run id. Usage: {usage}; `{command_name} status` lists runs.")
    if len(args) > 1:
        raise CommandError(f"`cancel` takes one run id, got {len(args)}. Usage: {usage}.")
    return Command("cancel", run_id=_run_id(args[0]))


def _run_id(word: str) -> str:
    """Run ids are often copied out of a `code span`: drop the backticks that come along."""
    return word.strip("`")


# -- replies the listeners send -------------------------------------------------------------


def help_text(command_name: str = DEFAULT_COMMAND) -> str:
    """Usage as Slack mrkdwn, for `help`, an empty command, and after some errors."""
    c = command_name
    return "\n".join(
        [
            f"*{c}* starts procedures and follows their runs.",
            f"• `{c} run <name> [key=value ...]` start a procedure; "
            'quote values with spaces (`note="ship it"`). '
            "Missing required parameters open a form.",
            f"• `{c} list` the procedures you can run, with their parameters",
            f"• `{c} status [run]` recent runs, or one run in detail",
            f"• `{c} cancel &lt;run&gt;` cancel a run that is still going",
            f"• `{c} help` this message",
            f"Example: `{c} run deploy_approval environment=staging version=2.14.0`",
        ]
    )


def unknown_procedure_message(
    name: str, known: Iterable[str], *, command_name: str = DEFAULT_COMMAND
) -> str:
    """The reply when `run <name>` names no procedure in the catalog."""
    known = sorted(known)
    if not known:
        return (
            f"Unknown procedure `{name}`: no procedures are loaded (check HITLBOT_PROCEDURES_DIR)."
        )
    guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6) or [
        k for k in known if k.lower() == name.lower()
    ]
    if guess:
        return (
            f"Unknown procedure `{name}`. Did you mean `{guess[0]}`? "
            f"`{command_name} list` shows all."
        )
    return f"Unknown procedure `{name}`. `{command_name} list` shows the procedures you can run."


def missing_required(procedure: Procedure, params: dict[str, object]) -> list[str]:
    """Required parameters that nothing fills: not given (a blank value counts as not given,
    as in `coerce_params`), no baked-in `value`, no default. These open the param form."""
    missing = []
    for name, spec in procedure.params.items():
        if not spec.required or spec.value is not None or spec.default is not None:
            continue
        given = params.get(name)
        if given is None or (isinstance(given, str) and not given.strip()):
            missing.append(name)
    return missing


def unknown_params(procedure: Procedure, params: dict[str, object]) -> list[str]:
    """Given names the procedure does not declare; worth an ephemeral before any form opens,
    because the form would silently drop them."""
    return [name for name in params if name not in procedure.params]


def param_error_message(
    procedure: Procedure, error: ParamError, *, command_name: str = DEFAULT_COMMAND
) -> str:
    """An ephemeral reply for a `ParamError` from `run <name> key=value ...`: every problem,
    then how to retry."""
    problems = [line for line in str(error).splitlines() if line.strip()]
    lines = [f"Cannot start `{procedure.procedure_id}`:"]
    lines += [f"• {_strip_quotes_prefix(p)}" for p in problems]
    run = f"{command_name} run {procedure.procedure_id}"
    lines.append(f"Fix the values and try again: `{run} key=value ...`.")
    return "\n".join(lines)


def _strip_quotes_prefix(problem: str) -> str:
    """ "parameter 'env': ..." reads better as "`env`: ..." in Slack."""
    match = re.match(r"^(unknown )?parameter '([^']*)'", problem)
    if not match:
        return problem
    unknown = "unknown parameter " if match.group(1) else ""
    return f"{unknown}`{match.group(2)}`{problem[match.end() :]}"
