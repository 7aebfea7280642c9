"""Answering requests at the terminal, one prompt per question.

Every answer is checked with `runtime.answers.normalize_answer`, the same rules Slack and answers
files go through, before it is handed back; a wrong answer prints the runtime's own message and
asks again. Ctrl-C or Ctrl-D at any prompt raises `StoppedAnswering`: the run stays waiting.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from bot.cli.answer_sources import Answer, StoppedAnswering
from bot.cli.render import as_text, option_label
from runtime.answers import canonical_value, normalize_answer
from runtime.errors import AnswerError, HitlbotError
from runtime.models import HITLRequest, PendingRequest

T = TypeVar("T")
EDIT_DECISIONS = frozenset({"edit", "edited", "edit_and_approve"})


class TerminalAnswers:
    """An `AnswerSource` that asks the person at the terminal."""

    def __init__(self, console: Console, responder: str | None) -> None:
        self.console = console
        self.responder = responder

    def next_answer(self, pending: PendingRequest) -> Answer:
        try:
            value = self.ask(pending.request)
        except (KeyboardInterrupt, EOFError):
            self.console.print()
            raise StoppedAnswering from None
        return Answer(value=value, responder=self.responder, origin="terminal")

    def ask(self, request: HITLRequest) -> Any:
        asker = {
            "approval": self._approval,
            "input": self._input,
            "review": self._review,
            "escalation": self._escalation,
            "select": self._select,
            "inputs": self._inputs,
        }.get(request.request_type)
        if asker is None:
            raise HitlbotError(
                f"the terminal cannot answer {request.request_type!r} requests; "
                "answer it with --answers FILE.json"
            )
        return asker(request)

    # -- the prompt loop ---------------------------------------------------------------------

    def _prompt(self, question: str, parse: Callable[[str], T]) -> T:
        """Ask until `parse` accepts the line; its AnswerError message says what is wrong."""
        while True:
            line = self._read(question)
            try:
                return parse(line.strip())
            except AnswerError as exc:
                self.console.print(Text(f"  {exc}", style="red"))

    # -- one method per request type ---------------------------------------------------------

    def _approval(self, request: HITLRequest) -> bool:
        def parse(line: str) -> bool:
            if not line:
                raise AnswerError("type y to approve or n to reject")
            return normalize_answer(request, line)

        return self._prompt("Approve? [y/n]", parse)

    def _input(self, request: HITLRequest) -> Any:
        if request.options:
            return self._choose_one(request, "Choose")
        default = request.default_value
        placeholder = request.metadata.get("placeholder") or ""
        if request.metadata.get("multiline"):
            return self._block(request, default)
        hint = f" [{as_text(default)}]" if default is not None else ""
        hint += f" (e.g. {placeholder})" if placeholder and default is None else ""

        def parse(line: str) -> Any:
            if not line:
                if default is not None:
                    return normalize_answer(request, default)
                raise AnswerError("an answer is required")
            return normalize_answer(request, line)

        return self._prompt(f"Answer{hint}:", parse)

    def _block(self, request: HITLRequest, default: Any) -> Any:
        self.console.print(Text("  several lines; end with a line holding only '.'", style="dim"))
        while True:
            lines = self._read_lines()
            if lines:
                return normalize_answer(request, "\n".join(lines))
            if default is not None:
                return normalize_answer(request, default)
            self.console.print(Text("  an answer is required", style="red"))

    def _review(self, request: HITLRequest) -> dict[str, Any]:
        options = request.options or []
        numbers = f"1-{len(options)}" if options else "decision"

        def parse(line: str) -> dict[str, Any]:
            if line.isdigit() and not 1 <= int(line) <= len(options):
                raise AnswerError(f"choose a number from 1 to {len(options)}")
            option = _pick(options, line)
            decision = option["value"] if option else line
            normalize_answer(request, {"decision": decision})  # raises with the choices listed
            return option or _find(options, decision)

        option = self._prompt(f"Decision [{numbers}]:", parse)
        feedback = self._read("Feedback (optional):")
        answer: dict[str, Any] = {"decision": option["value"], "feedback": feedback.strip()}
        if option.get("edit") or canonical_value(option["value"]) in EDIT_DECISIONS:
            answer["edited_artifact"] = self._edited_artifact(request.metadata.get("artifact"))
        return _checked(request, answer)

    def _escalation(self, request: HITLRequest) -> dict[str, Any]:
        note = self._read("Resolution note (Enter to mark resolved):")
        return {"note": note.strip()}

    def _select(self, request: HITLRequest) -> Any:
        if request.metadata.get("mode") != "multiple":
            return self._choose_one(request, "Choose")
        count = len(request.options or [])

        def parse(line: str) -> list[Any]:
            return normalize_answer(request, line)

        return self._prompt(f"Choose one or more [1-{count}, comma-separated]:", parse)

    def _inputs(self, request: HITLRequest) -> dict[str, Any]:
        items = request.metadata.get("items", [])
        while True:
            answers: dict[str, Any] = {}
            for number, item in enumerate(items, start=1):
                self.console.print(
                    Text.assemble(
                        (f"({number}/{len(items)}) ", "dim"),
                        (item["label"], "bold"),
                        (f"  {item['message']}" if item.get("message") != item["label"] else ""),
                    )
                )
                answers[item["item_id"]] = self._item(item)
            try:
                return _checked(request, answers)
            except AnswerError as exc:
                self.console.print(Text(f"  {exc}; once more", style="red"))

    def _item(self, item: dict[str, Any]) -> Any:
        """One item of a batch, asked as the request type it is; optional items may be skipped."""
        sub = HITLRequest(
            request_type=item["request_type"],
            message=item.get("message", item["label"]),
            default_value=item.get("default_value"),
            options=item.get("options") or None,
            metadata=item.get("metadata", {}),
        )
        optional = not item.get("required", True) or sub.default_value is not None
        if sub.request_type == "select" and sub.options:
            self.console.print(_numbered(sub.options))
        if not optional:
            return self.ask(sub)
        default = sub.default_value

        def parse(line: str) -> Any:
            if not line:
                return default
            return normalize_answer(sub, line)

        if sub.request_type == "approval" and isinstance(default, bool):
            shown = f"Enter for {'yes' if default else 'no'}"
        else:
            shown = f"Enter for {as_text(default)}" if default is not None else "Enter to skip"
        kinds = {"approval": "y/n", "select": f"1-{len(sub.options or [])}"}
        question = f"Answer [{kinds[sub.request_type]}]" if sub.request_type in kinds else "Answer"
        return self._prompt(f"{question} ({shown}):", parse)

    # -- helpers -----------------------------------------------------------------------------

    def _choose_one(self, request: HITLRequest, question: str) -> Any:
        count = len(request.options or [])
        return self._prompt(f"{question} [1-{count}]:", partial(normalize_answer, request))

    def _read(self, question: str) -> str:
        return self.console.input(Text.assemble(("? ", "bold magenta"), (question, "bold"), " "))

    def _read_lines(self) -> list[str]:
        lines: list[str] = []
        while True:
            line = self.console.input("")
            if line.strip() == ".":
                return lines
            lines.append(line)

    def _edited_artifact(self, artifact: Any) -> Any:
        """The artifact after editing: in $VISUAL/$EDITOR if set, else typed at the prompt."""
        if artifact is None or isinstance(artifact, str):
            original = artifact or ""
        else:
            original = json.dumps(artifact, indent=2)
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor:
            edited = _run_editor(editor, original or "")
        else:
            self.console.print(
                Text(
                    "  type the new version; end with a line holding only '.' "
                    "(nothing typed keeps the original)",
                    style="dim",
                )
            )
            lines = self._read_lines()
            edited = "\n".join(lines) if lines else original
        if isinstance(artifact, str) or artifact is None:
            return edited
        try:
            return json.loads(edited)
        except ValueError:
            self.console.print(Text("  not valid JSON; keeping it as text", style="yellow"))
            return edited


def _checked(request: HITLRequest, raw: T) -> T:
    """`raw` itself once the runtime accepts it: the engine records the normalised form."""
    normalize_answer(request, raw)
    return raw


def _numbered(options: list[dict[str, Any]]) -> Text:
    text = Text()
    for number, option in enumerate(options, start=1):
        text.append(f"  {number}. ", style="bold")
        text.append(option_label(option) + ("\n" if number < len(options) else ""))
    return text


def _pick(options: list[dict[str, Any]], line: str) -> dict[str, Any] | None:
    if line.isdigit() and 1 <= int(line) <= len(options):
        return options[int(line) - 1]
    return None


def _find(options: list[dict[str, Any]], decision: str) -> dict[str, Any]:
    """The option `decision` names (already validated), matched as the runtime matches it."""
    wanted = normalize_answer(
        HITLRequest(request_type="review", message="", options=options), {"decision": decision}
    )["decision"]
    return next(o for o in options if canonical_value(o["value"]) == wanted)


def _run_editor(editor: str, text: str) -> str:
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
        path = tmp.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)
        with open(path, encoding="utf-8") as handle:
            return handle.read().rstrip("\n")
    finally:
        os.unlink(path)
