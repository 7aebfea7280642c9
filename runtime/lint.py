"""`hitlbot validate`: every problem in a procedure file, with its file line, before anyone runs it.

Three sources of findings: the loader (a file that does not load, bad field declarations,
unsupported features) and a static pass over the Lua tokens that checks literal `Human.*` call
sites: the method exists, the option keys are ones the method reads (a typo such as `timout`
would otherwise silently drop the timeout) and a `config_key` names a declaration. The static
pass only judges what it can see literally; `Human.approve(opts)` with a variable is left alone.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runtime.errors import ProcedureLoadError
from runtime.loader import RawProcedure, check_declarations, read_procedure
from runtime.primitives.human import MAX_ITEMS, too_many_items

# Option keys each Human method reads: tactus-compat.md §1.2, plus what hitlbot's primitives
# read beyond Tactus (`multiline` for input, `default` and `context` for review, `context` for
# notify) ...
_METHOD_KEYS: dict[str, frozenset[str]] = {
    "approve": frozenset({"message", "context", "timeout", "default", "config_key"}),
    "input": frozenset(
        {"message", "placeholder", "timeout", "default", "config_key", "options", "multiline"}
    ),
    "review": frozenset(
        {"message", "artifact", "artifact_type", "options", "timeout", "config_key"}
        | {"default", "context"}
    ),
    "escalate": frozenset({"message", "context", "severity", "timeout", "config_key"}),
    "select": frozenset(
        {"message", "options", "mode", "style", "min", "max", "timeout", "default", "config_key"}
    ),
    "upload": frozenset({"message", "accept", "max_size", "multiple", "timeout", "config_key"}),
    "multiple": frozenset({"items"}),
    "inputs": frozenset({"items"}),
    "custom": frozenset(
        {"component_type", "message", "data", "actions", "timeout", "default", "config_key"}
    ),
    "notify": frozenset({"message", "level", "context"}),
}
# ... plus the keys hitlbot reads on every method (routing, approval rules, the action contract).
_COMMON_KEYS = frozenset(
    {"approvers", "allow_self_approval", "reminders", "channel", "responders", "details"}
    | {"content", "level", "mode", "min", "max", "style", "config_key", "action_key"}
    | {"resource_refs", "preconditions", "expires_at", "response_schema", "ui_schema"}
)
_ITEM_KEYS = frozenset(
    {"id", "label", "type", "message", "options", "required", "metadata", "default", "timeout"}
    | {"mode", "min", "max"}
)
# Tactus methods whose keys we know but that hitlbot cannot serve yet: a clear error at validate
# time beats a run that fails at the call.
_UNSUPPORTED_METHODS = {
    "upload": "Human.upload is not supported yet (file uploads are not implemented)",
    "custom": "Human.custom is not supported (it is broken in Tactus too; use Human.multiple)",
}
KNOWN_METHODS = tuple(m for m in _METHOD_KEYS if m not in _UNSUPPORTED_METHODS)
_DECLARATION_CALLS = ("input", "output", "Hitl", "hitl", "stages")

_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\f\v]+)
    |(?P<newline>\n)
    |(?P<long_comment>--\[(?P<lc_eq>=*)\[.*?\](?P=lc_eq)\])
    |(?P<comment>--[^\n]*)
    |(?P<long_string>\[(?P<ls_eq>=*)\[.*?\](?P=ls_eq)\])
    |(?P<string>"(?:\\.|\\\n|[^"\\\n])*"|'(?:\\.|\\\n|[^'\\\n])*')
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>0[xX][0-9a-fA-F.]+(?:[pP][+-]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<op>\.\.\.|\.\.|==|~=|<=|>=|//|::|<<|>>|.)
    """,
    re.S | re.X,
)


@dataclass(frozen=True)
class LintIssue:
    severity: Literal["error", "warning"]
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.severity}: {self.message}"


@dataclass(frozen=True)
class Token:
    kind: Literal["name", "string", "number", "op"]
    text: str  # a string token's text is its content, without quotes
    line: int


def lint_procedure(path: str | Path) -> list[LintIssue]:
    """Every finding for one file, sorted by line; errors mean the procedure cannot run as is."""
    try:
        raw = read_procedure(path)
    except ProcedureLoadError as exc:
        message = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
        return [LintIssue("error", exc.line, message)]
    tokens = lua_tokens(raw.code)
    offset = raw.code_line_offset
    issues = [
        LintIssue(d.severity, d.line, f"{d.field}: {d.message}") for d in check_declarations(raw)
    ]
    for warning in raw.warnings:
        line = warning.line
        if line is None and warning.symbol:
            line = _first_use(tokens, warning.symbol, offset)
        issues.append(LintIssue("warning", line, warning.message))
    issues += _human_calls(tokens, offset, raw)
    issues += _late_declarations(tokens, raw)
    return sorted(issues, key=lambda i: (i.line or 0, i.severity != "error"))


# -- tokens ------------------------------------------------------------------------------------


def lua_tokens(source: str) -> list[Token]:
    """Lua tokens with their lines; comments dropped, so neither they nor strings mislead."""
    tokens: list[Token] = []
    line = 1
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup
        text = match.group()
        if kind in ("name", "number", "op"):
            tokens.append(Token(kind, text, line))  # type: ignore[arg-type]
        elif kind == "string":
            tokens.append(Token("string", text[1:-1], line))
        elif kind == "long_string":
            level = len(match.group("ls_eq"))
            tokens.append(Token("string", text[level + 2 : -level - 2], line))
        line += text.count("\n")
    return tokens


def _first_use(tokens: list[Token], name: str, offset: int) -> int | None:
    for i, tok in enumerate(tokens):
        if tok.kind == "name" and tok.text == name and not _is_member(tokens, i):
            return tok.line + offset
    return None


def _is_member(tokens: list[Token], i: int) -> bool:
    """`x.Human` or `x:Human` is some table's field, not the global."""
    return i > 0 and tokens[i - 1].text in (".", ":") and tokens[i - 1].kind == "op"


# -- Human.* call sites ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One entry of a table constructor: `key = value`, `["key"] = value` or a positional value."""

    key: str | None
    line: int
    start: int  # index of the value's first token
    end: int  # index one past the value's last token


def _human_calls(tokens: list[Token], offset: int, raw: RawProcedure) -> list[LintIssue]:
    issues: list[LintIssue] = []
    for i, tok in enumerate(tokens[:-2]):
        if tok.kind != "name" or tok.text != "Human" or _is_member(tokens, i):
            continue
        sep, method = tokens[i + 1], tokens[i + 2]
        if sep.text not in (".", ":") or method.kind != "name":
            continue
        line = method.line + offset
        if method.text in _UNSUPPORTED_METHODS:
            issues.append(LintIssue("error", line, _UNSUPPORTED_METHODS[method.text]))
            continue
        if method.text not in _METHOD_KEYS:
            issues.append(LintIssue("error", line, _unknown_method(method.text)))
            continue
        if sep.text == ":":
            issues.append(
                LintIssue(
                    "warning",
                    line,
                    f"Human:{method.text} works in hitlbot but passes Human as the first "
                    f"argument in Tactus; write Human.{method.text}{{...}}",
                )
            )
        if method.text == "inputs":
            deprecated = "Human.inputs is deprecated; use Human.multiple"
            issues.append(LintIssue("warning", line, deprecated))
        issues += _call_arguments(tokens, i + 3, method.text, offset, raw)
    return issues


def _unknown_method(name: str) -> str:
    guess = difflib.get_close_matches(name, KNOWN_METHODS, n=1)
    hint = f"did you mean Human.{guess[0]}? " if guess else ""
    return f"unknown method Human.{name} ({hint}known: {', '.join(KNOWN_METHODS)})"


def _call_arguments(
    tokens: list[Token], j: int, method: str, offset: int, raw: RawProcedure
) -> list[LintIssue]:
    """Check the literal table passed as `Human.method({...})` or `Human.method{...}`.

    A bare string is fine for every method: it is the message, or the name of a declaration.
    """
    if j >= len(tokens):
        return []
    if tokens[j].text == "(" and tokens[j].kind == "op" and j + 1 < len(tokens):
        j += 1
    arg = tokens[j]
    if arg.kind != "op" or arg.text != "{":
        return []
    entries = _table_entries(tokens, j)
    if method in ("multiple", "inputs"):
        return _item_count(tokens, entries, arg.line + offset) + _item_keys(
            tokens, entries, method, offset
        )
    allowed = _METHOD_KEYS[method] | _COMMON_KEYS
    issues = []
    for entry in entries:
        if entry.key is None:
            continue
        if entry.key not in allowed:
            issues.append(
                LintIssue("error", entry.line + offset, _unknown_key(method, entry.key, allowed))
            )
        elif entry.key == "config_key":
            issues += _config_key(tokens, entry, method, offset, raw)
    return issues


def _unknown_key(method: str, key: str, allowed: frozenset[str]) -> str:
    guess = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    return f"Human.{method}: unknown option {key!r}{hint}; it would be ignored"


def _config_key(
    tokens: list[Token], entry: _Entry, method: str, offset: int, raw: RawProcedure
) -> list[LintIssue]:
    value = tokens[entry.start : entry.end]
    if len(value) != 1 or value[0].kind != "string" or value[0].text in raw.hitl:
        return []
    declared = ", ".join(raw.hitl) or "none"
    return [
        LintIssue(
            "error",
            value[0].line + offset,
            f"Human.{method}: config_key {value[0].text!r} names no hitl declaration "
            f"(declared: {declared}); the call would fail at run time",
        )
    ]


def _item_keys(
    tokens: list[Token], entries: list[_Entry], method: str, offset: int
) -> list[LintIssue]:
    """`Human.multiple{ {id=..., ...}, ... }` (or `{items = {...}}`): each literal item's keys."""
    issues = []
    for entry in entries:
        literal = _is_table(tokens, entry)
        if entry.key == "items" and literal:
            issues += _item_keys(tokens, _table_entries(tokens, entry.start), method, offset)
        elif entry.key is not None and entry.key not in _COMMON_KEYS:
            issues.append(
                LintIssue(
                    "error",
                    entry.line + offset,
                    f"Human.{method} takes a list of items; {entry.key!r} is not an option",
                )
            )
        elif entry.key is None and literal:
            issues += [
                LintIssue("error", item.line + offset, _unknown_item_key(method, item.key))
                for item in _table_entries(tokens, entry.start)
                if item.key is not None and item.key not in _ITEM_KEYS
            ]
    return issues


def _item_count(tokens: list[Token], entries: list[_Entry], line: int) -> list[LintIssue]:
    """A literal batch with more items than one form holds could never be answered."""
    listed = next((e for e in entries if e.key == "items" and _is_table(tokens, e)), None)
    if listed is not None:
        entries = _table_entries(tokens, listed.start)
    count = sum(1 for entry in entries if entry.key is None and entry.end > entry.start)
    return [LintIssue("error", line, too_many_items(count))] if count > MAX_ITEMS else []


def _is_table(tokens: list[Token], entry: _Entry) -> bool:
    """Is the entry's value exactly one table constructor `{...}`?"""
    if entry.end <= entry.start or entry.end > len(tokens):
        return False
    return tokens[entry.start].text == "{" and tokens[entry.end - 1].text == "}"


def _unknown_item_key(method: str, key: str) -> str:
    guess = difflib.get_close_matches(key, sorted(_ITEM_KEYS), n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    return f"Human.{method}: unknown item option {key!r}{hint}"


def _table_entries(tokens: list[Token], start: int) -> list[_Entry]:
    """Entries of the table constructor whose `{` is tokens[start] (top level only)."""
    entries: list[_Entry] = []
    i = start + 1
    n = len(tokens)
    while i < n and tokens[i].text != "}":
        tok = tokens[i]
        key: str | None = None
        value_start = i
        if tok.kind == "name" and i + 1 < n and tokens[i + 1].text == "=":
            key, value_start = tok.text, i + 2
        elif tok.text == "[" and tok.kind == "op":
            close = _skip_value(tokens, i + 1, closers=("]",))
            if close + 1 < n and tokens[close + 1].text == "=":
                inner = tokens[i + 1 : close]
                if len(inner) == 1 and inner[0].kind == "string":
                    key = inner[0].text
                value_start = close + 2
        end = _skip_value(tokens, value_start, closers=(",", ";", "}"))
        entries.append(_Entry(key, tok.line, value_start, end))
        if end >= n or tokens[end].text not in (",", ";"):
            break
        i = end + 1
    return entries


def _skip_value(tokens: list[Token], i: int, closers: tuple[str, ...]) -> int:
    """Index of the first closer outside brackets, from i (len(tokens) if none)."""
    depth = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "op":
            if depth == 0 and tok.text in closers:
                return i
            if tok.text in "({[":
                depth += 1
            elif tok.text in ")}]":
                depth -= 1
                if depth < 0:
                    return i
        i += 1
    return i


# -- declarations the declaration pass never reached --------------------------------------------


def _late_declarations(tokens: list[Token], raw: RawProcedure) -> list[LintIssue]:
    """A `.tac` declaration after the first primitive call is never read: say so."""
    if raw.stop_line is None:
        return []
    issues = []
    for i, tok in enumerate(tokens[:-1]):
        if tok.kind != "name" or tok.text not in _DECLARATION_CALLS or _is_member(tokens, i):
            continue
        nxt = tokens[i + 1]
        is_call = (nxt.text in ("{", "(") and nxt.kind == "op") or nxt.kind == "string"
        if is_call and tok.line > raw.stop_line:
            issues.append(
                LintIssue(
                    "warning",
                    tok.line,
                    f"{tok.text}(...) comes after {raw.stopped_at} (line {raw.stop_line}), where "
                    "reading declarations stops, so hitlbot never sees it; move it to the top",
                )
            )
    return issues
