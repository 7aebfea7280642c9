"""Where the CLI's answers come from: a JSON answers file, the terminal, or nowhere.

Every source hands out one `Answer` per request, in the order the run asks. Returning None means
"no answer available": the run then stays WAITING_FOR_HUMAN in the database, which is not an
error but the normal way to hand a request over to someone (or something) else.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.errors import HitlbotError
from runtime.models import PendingRequest

# "responder" lets a scripted answer name who gave it (audit); "comment" lets a file say which
# request an answer is meant for. Anything else is most likely a typo of "value".
ANSWER_KEYS = frozenset({"value", "timeout", "responder", "comment"})
ANSWERS_EXAMPLE = '[{"value": true}, {"timeout": true}]'


class AnswersFileError(HitlbotError):
    """The answers file cannot be read or does not hold a list of answers."""


class StoppedAnswering(Exception):
    """The person pressed Ctrl-C or Ctrl-D at a prompt: leave the run waiting."""


@dataclass(frozen=True)
class Answer:
    """One answer to apply: a value, or a timeout (the request's default, marked timed out)."""

    value: Any = None
    timed_out: bool = False
    responder: str | None = None
    origin: str = "terminal"  # where it came from, for messages: "answers.json item 2"


class AnswerSource(Protocol):
    def next_answer(self, pending: PendingRequest) -> Answer | None:
        """The answer to `pending`, or None when this source has none left."""


class NoAnswers:
    """No tty and no answers file: every request is left for someone else."""

    def next_answer(self, pending: PendingRequest) -> Answer | None:
        return None


class ScriptedAnswers:
    """Answers taken in order from a list (an answers file)."""

    def __init__(self, answers: list[Answer]) -> None:
        self._answers = list(answers)
        self._next = 0

    def next_answer(self, pending: PendingRequest) -> Answer | None:
        if self._next >= len(self._answers):
            return None
        answer = self._answers[self._next]
        self._next += 1
        return answer

    @property
    def unused(self) -> int:
        return len(self._answers) - self._next


def load_answers(path: str, *, default_responder: str | None = None) -> list[Answer]:
    """Read and check an answers file (`-` for stdin) before anything runs.

    Checking everything up front means a malformed file never leaves a half-answered run behind.
    """
    name = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else _read(path)
    except OSError as exc:
        raise AnswersFileError(f"answers file {name}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        reason = getattr(exc, "msg", str(exc))
        raise AnswersFileError(f"answers file {name} is not valid JSON: {reason}{where}") from None
    if not isinstance(data, list):
        raise AnswersFileError(
            f"answers file {name} must hold a JSON list of answers such as {ANSWERS_EXAMPLE}, "
            f"not {_json_kind(data)}"
        )
    base = os.path.basename(name)
    return [
        _answer(item, f"{name} item {number}", f"{base} item {number}", default_responder)
        for number, item in enumerate(data, start=1)
    ]


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _answer(item: Any, where: str, origin: str, default_responder: str | None) -> Answer:
    if not isinstance(item, dict):
        raise AnswersFileError(
            f'{where} must be an object like {{"value": ...}} or {{"timeout": true}}, '
            f"not {_json_kind(item)}"
        )
    unknown = sorted(set(item) - ANSWER_KEYS)
    if unknown:
        raise AnswersFileError(
            f"{where} has unknown key {unknown[0]!r} (known: {', '.join(sorted(ANSWER_KEYS))})"
        )
    timeout = item.get("timeout", False)
    if not isinstance(timeout, bool):
        raise AnswersFileError(f'{where}: "timeout" must be true or false, not {timeout!r}')
    if "value" in item and timeout:
        raise AnswersFileError(f'{where} has both "value" and "timeout": true; keep one')
    if "value" not in item and not timeout:
        raise AnswersFileError(f'{where} needs "value" (the answer) or "timeout": true')
    responder = item.get("responder", default_responder)
    if responder is not None and not isinstance(responder, str):
        raise AnswersFileError(f'{where}: "responder" must be a string')
    return Answer(value=item.get("value"), timed_out=timeout, responder=responder, origin=origin)


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return kinds.get(type(value), type(value).__name__)
