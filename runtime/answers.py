"""Turn what a person gave (a click, a typed line, a JSON answer, a Plexus response) into the
value a request expects, or say clearly why it does not fit.

One place for every channel (CLI, Slack, Plexus), so `"yes"`, `true` and `"Approve"` mean the
same thing everywhere.

Review vocabulary: a recorded decision is the canonical form of its option, lowercase with
underscores (`approve`, `reject`, `request_changes`, `edit`, ...). An answer may name the option
by value or label, in any case, and the common aliases (`approved`, `rejected`, `changes`) are
accepted. The recorded answer is `{"decision": canonical, "label": label, "feedback": str,
"edited_artifact": any}`.
"""

from __future__ import annotations

import re
from typing import Any

from runtime.errors import AnswerError
from runtime.models import HITLRequest, HITLResponse

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "approve", "approved", "ok", "accept"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "reject", "rejected", "deny", "denied"})
DECISION_ALIASES = {
    "approved": "approve",
    "accept": "approve",
    "accepted": "approve",
    "rejected": "reject",
    "deny": "reject",
    "denied": "reject",
    "changes": "request_changes",
    "changes_requested": "request_changes",
    "edited": "edit",
}


def canonical_value(text: Any) -> str:
    """`"Request Changes"` -> `"request_changes"`: the canonical form of an option name."""
    return re.sub(r"[^0-9a-z]+", "_", str(text).strip().lower()).strip("_")


def timeout_response(request: HITLRequest, responded_at: Any = None) -> HITLResponse:
    """The answer a timeout gives: the request's default, marked as timed out."""
    if request.request_type == "escalation":
        raise AnswerError("escalations never time out")
    fields: dict[str, Any] = {"value": request.default_value, "timed_out": True}
    if responded_at is not None:
        fields["responded_at"] = responded_at
    return HITLResponse(**fields)


def normalize_answer(request: HITLRequest, raw: Any) -> Any:
    """Validate and normalise `raw` for `request`; raise AnswerError with a helpful message."""
    kind = request.request_type
    normalizer = _NORMALIZERS.get(kind)
    if normalizer is None:
        raise AnswerError(f"cannot answer a {kind!r} request")
    return normalizer(request, raw)


def _approval(request: HITLRequest, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, dict) and "approved" in raw:
        return _approval(request, raw["approved"])
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise AnswerError(f"an approval takes yes or no (true/false), not {raw!r}")


def _input(request: HITLRequest, raw: Any) -> Any:
    if request.options:
        return _choose_one(request.options, raw)
    if raw is None:
        return None
    if isinstance(raw, dict | list):
        raise AnswerError("an input takes text")
    return str(raw)


def _review(request: HITLRequest, raw: Any) -> dict[str, Any]:
    artifact = request.metadata.get("artifact")
    if isinstance(raw, str):
        raw = {"decision": raw}
    if not isinstance(raw, dict) or "decision" not in raw:
        raise AnswerError('a review takes {"decision": ..., "feedback": ...}')
    option = _find_option(request.options or [], raw["decision"])
    if option is None:
        raise AnswerError(
            f"unknown review decision {raw['decision']!r}; choose one of "
            + ", ".join(str(o["value"]) for o in request.options or [])
        )
    feedback = raw.get("feedback")
    edited = raw.get("edited_artifact", artifact)
    return {
        "decision": canonical_value(option["value"]),
        "label": option.get("label", option["value"]),
        "feedback": "" if feedback is None else str(feedback),
        "edited_artifact": edited,
    }


def _escalation(request: HITLRequest, raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        note = raw.get("note") or raw.get("input") or ""
    elif raw is None or isinstance(raw, bool):
        note = ""
    else:
        note = str(raw)
    return {"acknowledged": True, "action": "resolve", "note": str(note)}


def _select(request: HITLRequest, raw: Any) -> Any:
    options = request.options or []
    if request.metadata.get("mode") != "multiple":
        return _choose_one(options, raw)
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        raise AnswerError("a multiple choice takes a list of options")
    chosen = []
    for item in raw:
        value = _choose_one(options, item)
        if value not in chosen:
            chosen.append(value)
    low, high = request.metadata.get("min"), request.metadata.get("max")
    if low is not None and len(chosen) < low:
        raise AnswerError(f"choose at least {low} option{'s' if low != 1 else ''}")
    if high is not None and len(chosen) > high:
        raise AnswerError(f"choose at most {high} option{'s' if high != 1 else ''}")
    return chosen


def _inputs(request: HITLRequest, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise AnswerError("a batch of inputs takes an object keyed by item id")
    items = request.metadata.get("items", [])
    known = {item["item_id"] for item in items}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise AnswerError(f"unknown item id {unknown[0]!r}; items are {', '.join(sorted(known))}")
    answers: dict[str, Any] = {}
    for item in items:
        item_id = item["item_id"]
        if item_id not in raw or raw[item_id] in (None, "", []):
            if item.get("required", True) and item.get("default_value") is None:
                raise AnswerError(f"item {item_id!r} ({item['label']}) is required")
            answers[item_id] = item.get("default_value")
            continue
        sub = HITLRequest(
            request_type=item["request_type"],
            message=item.get("message", item["label"]),
            options=item.get("options") or None,
            metadata=item.get("metadata", {}),
        )
        try:
            answers[item_id] = normalize_answer(sub, raw[item_id])
        except AnswerError as exc:
            raise AnswerError(f"item {item_id!r}: {exc}") from None
    return answers


def _find_option(options: list[dict[str, Any]], given: Any) -> dict[str, Any] | None:
    if isinstance(given, dict):
        given = given.get("value", given.get("label"))
    wanted = canonical_value(given)
    wanted = DECISION_ALIASES.get(wanted, wanted)
    for option in options:
        if option["value"] == given or canonical_value(option["value"]) == wanted:
            return option
        if canonical_value(option.get("label", "")) == wanted:
            return option
    return None


def _choose_one(options: list[dict[str, Any]], raw: Any) -> Any:
    if not options:
        return raw
    option = _find_option(options, raw)
    if option is None and isinstance(raw, str) and raw.strip().isdigit():
        index = int(raw.strip()) - 1  # people pick from a numbered list
        option = options[index] if 0 <= index < len(options) else None
    if option is None:
        labels = ", ".join(str(o.get("label", o["value"])) for o in options)
        raise AnswerError(f"{raw!r} is not one of the options: {labels}")
    return option["value"]


_NORMALIZERS = {
    "approval": _approval,
    "input": _input,
    "review": _review,
    "escalation": _escalation,
    "select": _select,
    "inputs": _inputs,
}
