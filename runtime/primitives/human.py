"""`Human`: every request for a person.

Option keys, defaults and return shapes follow Tactus 0.53.4 (tactus-compat.md §1.2), with its
defects fixed: values come back as real Lua tables, a second return value says whether the answer
came from a timeout, `Human.input{options=...}` asks to choose one, `notify` really notifies,
`escalate` never times out, and `Human.approve("decl")` uses the declaration of that name.

Routing options that are ours (`approvers`, `allow_self_approval`, `channel`, `responders`,
`reminders`) travel in `request.metadata["hitlbot"]` so they never mix with a call's context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.answers import canonical_value
from runtime.context import ExecutionContext
from runtime.errors import HitlbotError
from runtime.models import ChatMessage, HITLRequest, HITLResponse
from runtime.protocols import ChatRecorder

ACTION_CONTRACT_KEYS = (
    "action_key",
    "resource_refs",
    "preconditions",
    "expires_at",
    "response_schema",
    "ui_schema",
)
ROUTING_KEYS = ("approvers", "allow_self_approval", "channel", "responders", "reminders")
NOTIFY_LEVELS = ("info", "success", "warning", "error", "critical")
SEVERITIES = ("info", "warning", "error", "critical")
MAX_ITEMS = 99
"""The most items one `Human.multiple` may ask: all of them must fit in one form, and a Slack
modal holds 100 blocks, one of which names the request. A longer batch could never be answered,
so the call fails at once rather than at the first submit."""

Shaper = Callable[[Any], Any]


class HumanPrimitive:
    """The Lua `Human` object. Constructor signature as in Plexus's `HumanPrimitive`."""

    def __init__(
        self,
        chat_recorder: ChatRecorder | None,
        execution_context: ExecutionContext,
        hitl_config: dict[str, Any] | None = None,
    ) -> None:
        self.chat_recorder = chat_recorder
        self.execution_context = execution_context
        self.hitl_config = hitl_config or {}
        self._queued: list[ChatMessage] = []

    # -- the seed's methods (Python callers get the value only) --------------------------------

    def approve(self, options: dict[str, Any] | str | None = None) -> bool:
        return self.call("approve", options)[0]

    def input(self, options: dict[str, Any] | str | None = None) -> str | None:
        return self.call("input", options)[0]

    def review(self, options: dict[str, Any] | str | None = None) -> dict[str, Any] | None:
        return self.call("review", options)[0]

    def escalate(self, options: dict[str, Any] | str | None = None) -> None:
        self.call("escalate", options)

    def select(self, options: dict[str, Any] | str | None = None) -> Any:
        return self.call("select", options)[0]

    def multiple(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("multiple", items)[0]

    def inputs(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("inputs", items)[0]

    def notify(self, options: dict[str, Any] | str | None = None) -> None:
        opts = _as_options(options)
        level = str(opts.get("level", "info")).lower()
        if level not in NOTIFY_LEVELS:
            raise HitlbotError(
                f"Human.notify level must be one of {', '.join(NOTIFY_LEVELS)}, not {level!r}"
            )
        payload = {
            "message": str(opts.get("message", "Notification")),
            "level": level,
            "content": opts.get("content"),
            "details": _details(opts.get("details")),
            "context": opts.get("context") or {},
        }
        if not self.execution_context.is_replaying:
            self._queued.append(
                ChatMessage(
                    role="ASSISTANT",
                    content=payload["content"] or payload["message"],
                    human_interaction="NOTIFICATION",
                    metadata={"level": level, "details": payload["details"]},
                )
            )
        self.execution_context.emit("notify", payload)

    async def flush_recordings(self) -> None:
        """Record the notifications of this execution in the chat session, then forget them."""
        queued, self._queued = self._queued, []
        if self.chat_recorder is None:
            return
        for message in queued:
            await self.chat_recorder.record_message(message)

    # -- the Lua entry point ------------------------------------------------------------------

    def call(self, method: str, options: Any) -> tuple[Any, bool]:
        """Ask, and return `(value, timed_out)`: what Lua's two return values carry."""
        build = _BUILDERS.get(method)
        if build is None:
            raise HitlbotError(f"Human.{method} is not supported")
        if method in ("multiple", "inputs"):
            kind, request, shape = build(self, options)
        else:
            kind, request, shape = build(self, self._merged(method, options))
        response: HITLResponse = self.execution_context.wait_for_human(kind, request)
        return shape(response.value), response.timed_out

    def _merged(self, method: str, options: Any) -> dict[str, Any]:
        """Apply the string shorthand and merge a `config_key` declaration under the call."""
        if isinstance(options, str):
            options = (
                {"config_key": options} if options in self.hitl_config else {"message": options}
            )
        opts = _as_options(options)
        key = opts.get("config_key")
        if key is None:
            return opts
        if key not in self.hitl_config:
            declared = ", ".join(sorted(self.hitl_config)) or "none"
            raise HitlbotError(
                f"Human.{method}: config_key {key!r} names no hitl declaration "
                f"(declared: {declared})"
            )
        merged = dict(self.hitl_config[key])
        merged.update(opts)
        return merged

    # -- request builders: (checkpoint kind, request, shape of the value returned to Lua) ------

    def _approve(self, o: dict[str, Any]) -> tuple[str, HITLRequest, Shaper]:
        request = _request(
            "approval",
            o,
            "Approval requested",
            default=bool(o.get("default", False)),
            metadata=dict(o.get("context") or {}),
        )
        return "hitl_approval", request, bool

    def _input(self, o: dict[str, Any]) -> tuple[str, HITLRequest, Shaper]:
        options = _choice_options(o.get("options")) or None
        request = _request(
            "input",
            o,
            "Input requested",
            default=o.get("default"),
            options=options,
            metadata={"placeholder": str(o.get("placeholder", ""))}
            | ({"multiline": bool(o["multiline"])} if "multiline" in o else {}),
        )
        return "hitl_input", request, _identity

    def _review(self, o: dict[str, Any]) -> tuple[str, HITLRequest, Shaper]:
        options = _review_options(o.get("options") or ["approve", "reject"])
        artifact = o.get("artifact")
        default = o.get("default")
        if default is None:
            default = {"decision": "reject", "edited_artifact": artifact, "feedback": ""}
        request = _request(
            "review",
            o,
            "Review requested",
            default=default,
            options=options,
            metadata={
                "artifact": artifact,
                "artifact_type": str(o.get("artifact_type", "artifact")),
                "context": o.get("context") or {},
            },
        )
        return "hitl_review", request, lambda value: _review_result(value, options)

    def _escalate(self, o: dict[str, Any]) -> tuple[str, HITLRequest, Shaper]:
        severity = str(o.get("severity", "error")).lower()
        if severity not in SEVERITIES:
            raise HitlbotError(
                f"Human.escalate severity must be one of {', '.join(SEVERITIES)}, not {severity!r}"
            )
        request = _request(
            "escalation",
            {**o, "timeout": None},
            "Escalation required",
            default=None,
            metadata={"severity": severity, "context": o.get("context") or {}},
        )
        return "hitl_escalation", request, lambda _value: None

    def _select(self, o: dict[str, Any]) -> tuple[str, HITLRequest, Shaper]:
        mode = str(o.get("mode", "single"))
        if mode not in ("single", "multiple"):
            raise HitlbotError(f"Human.select mode must be single or multiple, not {mode!r}")
        options = _choice_options(o.get("options"))
        if not options:
            raise HitlbotError("Human.select needs options")
        multiple = mode == "multiple"
        low = o.get("min", 1 if multiple else None)
        high = o.get("max")
        if multiple and high is not None and low is not None and low > high:
            raise HitlbotError(f"Human.select: min ({low}) is greater than max ({high})")
        metadata: dict[str, Any] = {"mode": mode, "min": low, "max": high}
        if "style" in o:
            metadata["style"] = o["style"]
        request = _request(
            "select",
            o,
            "Selection required",
            default=o.get("default", [] if multiple else None),
            options=options,
            metadata=metadata,
        )
        return "hitl_select", request, _identity

    def _multiple(self, items: Any) -> tuple[str, HITLRequest, Shaper]:
        if isinstance(items, dict) and "items" in items:
            items = items["items"]
        if not isinstance(items, list) or not items:
            raise HitlbotError("Human.multiple takes a non-empty list of items")
        if len(items) > MAX_ITEMS:
            raise HitlbotError(too_many_items(len(items)))
        normalized = [_item(raw, index) for index, raw in enumerate(items, start=1)]
        ids = [item["item_id"] for item in normalized]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate is not None:
            raise HitlbotError(f"Human.multiple: duplicate item id {duplicate!r}")
        request = HITLRequest(
            request_type="inputs",
            message=f"Multiple inputs requested ({len(items)} items)",
            default_value={item["item_id"]: item["default_value"] for item in normalized},
            metadata={"items": normalized},
        )
        return "hitl_inputs", request, _identity


_BUILDERS: dict[str, Callable[..., tuple[str, HITLRequest, Shaper]]] = {
    "approve": HumanPrimitive._approve,
    "input": HumanPrimitive._input,
    "review": HumanPrimitive._review,
    "escalate": HumanPrimitive._escalate,
    "select": HumanPrimitive._select,
    "multiple": HumanPrimitive._multiple,
    "inputs": HumanPrimitive._multiple,
}


def too_many_items(count: int) -> str:
    return (
        f"Human.multiple asks {count} items, more than one form holds ({MAX_ITEMS} at most); "
        "split them over several calls"
    )


def _identity(value: Any) -> Any:
    return value


def _as_options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if isinstance(options, str):
        return {"message": options}
    if isinstance(options, list) and not options:
        return {}  # Lua's {} arrives as an empty list
    if not isinstance(options, dict):
        raise HitlbotError("Human.* takes a table of options, e.g. Human.approve{message = ...}")
    return options


def _request(
    request_type: str,
    o: dict[str, Any],
    default_message: str,
    *,
    default: Any,
    options: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any],
) -> HITLRequest:
    timeout = o.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise HitlbotError(f"timeout must be a positive number of seconds, not {timeout!r}")
        timeout = int(timeout)
    for key in ACTION_CONTRACT_KEYS:
        if key in o:
            metadata[key] = o[key]
    routing = {key: o[key] for key in ROUTING_KEYS if key in o}
    if routing:
        metadata["hitlbot"] = routing
    return HITLRequest(
        request_type=request_type,
        message=str(o.get("message", default_message)),
        timeout_seconds=timeout,
        default_value=default,
        options=options,
        metadata=metadata,
    )


def _choice_options(raw: Any) -> list[dict[str, Any]]:
    """Select/input options: a string s is `{label=s, value=s}`; `{value=v}` gets `label=v`."""
    options = []
    for item in raw or []:
        if isinstance(item, dict):
            if "value" not in item and "label" not in item:
                raise HitlbotError("each option needs a value or a label")
            value = item.get("value", item.get("label"))
            option = {"label": str(item.get("label", value)), "value": value}
            if "description" in item:
                option["description"] = str(item["description"])
            options.append(option)
        else:
            options.append({"label": str(item), "value": item})
    return options


def _review_options(raw: Any) -> list[dict[str, Any]]:
    """Review options keep what the procedure wrote as `value`: that is what it compares to.

    `"approve"` gets the label "Approve"; `{label = "Request Changes"}` has the value
    "Request Changes" (Plexus examples compare against labels); an explicit `value` wins.
    """
    options = []
    for item in raw:
        if isinstance(item, dict):
            if "value" not in item and "label" not in item:
                raise HitlbotError("each review option needs a label or a value")
            value = item.get("value", item.get("label"))
            label = str(item.get("label", str(value).replace("_", " ").title()))
            option = {"label": label, "value": value, "type": item.get("type", "action")}
            if "style" in item:
                option["style"] = item["style"]
            if "edit" in item:
                option["edit"] = bool(item["edit"])
        else:
            option = {
                "label": str(item).replace("_", " ").title(),
                "value": item,
                "type": "action",
            }
        options.append(option)
    return options


def _review_result(value: Any, options: list[dict[str, Any]]) -> Any:
    """Give Lua the decision as the procedure wrote the option, plus the canonical form."""
    if not isinstance(value, dict):
        return value
    decision = value.get("decision")
    written = next(
        (o["value"] for o in options if canonical_value(o["value"]) == canonical_value(decision)),
        decision,
    )
    return {**value, "decision": written, "value": canonical_value(decision)}


def _details(raw: Any) -> list[dict[str, str]]:
    details = []
    for item in raw or []:
        if isinstance(item, dict):
            title, content = item.get("title", "Details"), item.get("content", "")
            details.append({"title": str(title), "content": str(content)})
        else:
            details.append({"title": "Details", "content": str(item)})
    return details


_ITEM_TYPES = {
    "approval": "approval",
    "approve": "approval",
    "input": "input",
    "text": "input",
    "select": "select",
    "choice": "select",
    "review": "review",
}


def _item(raw: Any, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise HitlbotError(f"Human.multiple: item {index} must be a table")
    missing = [key for key in ("id", "label") if key not in raw]
    if missing:
        raise HitlbotError(f"Human.multiple: item {index} needs {' and '.join(missing)}")
    kind = _ITEM_TYPES.get(str(raw.get("type", "input")))
    if kind is None:
        raise HitlbotError(
            f"Human.multiple: item {raw['id']!r} has unknown type {raw.get('type')!r} "
            "(approval, input, select)"
        )
    metadata = dict(raw.get("metadata") or {})
    if kind == "select":
        metadata.setdefault("mode", raw.get("mode", "single"))
        metadata.setdefault("min", raw.get("min"))
        metadata.setdefault("max", raw.get("max"))
    return {
        "item_id": str(raw["id"]),
        "label": str(raw["label"]),
        "request_type": kind,
        "message": str(raw.get("message", raw["label"])),
        "options": _choice_options(raw.get("options")),
        "default_value": raw.get("default"),
        "required": bool(raw.get("required", True)),
        "metadata": metadata,
    }
