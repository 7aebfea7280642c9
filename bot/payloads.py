"""What the listeners read from Slack's payloads, checked before anything is done with them.

Slack's payloads carry much more than the bot reads. These models name only what a listener
reads, with its type, so a payload missing a field (or carrying the wrong kind of value) is
refused at the door with a 400 and one log line, instead of failing half-way through its work
or inside Bolt's own routing (which indexes `view.type`, `actions[0].action_id` ... unchecked).
A payload of a kind the bot has no listener for is refused the same way.

`read_payload` runs as a global Bolt middleware, before any listener is matched, in HTTP and in
Socket Mode alike; listeners get the typed payload from the context (`payload_of`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from runtime.errors import HitlbotError

CONTEXT_KEY = "hitlbot_payload"

UserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{1,63}$")]
ChannelId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,63}$")]
Token = Annotated[str, StringConstraints(min_length=1, max_length=255)]
"""A trigger id, an event id: opaque to the bot, but present and of a sane length."""


class BadRequest(HitlbotError):
    """A request Slack would not send: refused with a 4xx, never acted on."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Person(_Model):
    id: UserId


class Option(_Model):
    value: str


class StateEntry(_Model):
    """One element's state (`state.values[block][action]`), as the parsers read it."""

    type: str | None = None
    value: str | int | float | None = None
    selected_option: Option | None = None
    selected_options: list[Option] | None = None


class State(_Model):
    values: dict[str, dict[str, StateEntry]] = Field(default_factory=dict)


class Action(_Model):
    action_id: Token
    block_id: str | None = None
    value: str | None = None
    selected_option: Option | None = None


class Channel(_Model):
    id: ChannelId


class Container(_Model):
    channel_id: ChannelId | None = None


class Surface(_Model):
    """The view a click happened in: the Home tab or a modal."""

    type: str
    state: State | None = None


class SlashCommand(_Model):
    command: str
    user_id: UserId
    channel_id: ChannelId | None = None
    text: str = ""
    trigger_id: Token
    response_url: str


class BlockActions(_Model):
    type: Literal["block_actions"]
    user: Person
    trigger_id: Token
    actions: list[Action] = Field(min_length=1)
    channel: Channel | None = None
    container: Container | None = None
    view: Surface | None = None
    state: State | None = None

    @property
    def action(self) -> Action:
        """The action clicked: Slack sends one (Bolt routes on the first)."""
        return self.actions[0]

    @property
    def channel_id(self) -> str | None:
        """Where the click happened; None in the Home tab or a modal."""
        if self.channel is not None:
            return self.channel.id
        return self.container.channel_id if self.container is not None else None


class View(_Model):
    id: Token
    type: str
    callback_id: str
    private_metadata: str = ""
    state: State
    blocks: list[dict[str, Any]] = Field(default_factory=list)


class ViewSubmission(_Model):
    type: Literal["view_submission"]
    user: Person
    view: View
    trigger_id: Token | None = None


class Event(_Model):
    type: str


class HomeOpened(Event):
    type: Literal["app_home_opened"]
    user: UserId
    tab: str = "home"


class EventCallback(_Model):
    type: Literal["event_callback"]
    event_id: Token
    event: Event


Payload = SlashCommand | BlockActions | ViewSubmission | EventCallback
_KINDS: dict[str, type[_Model]] = {
    "block_actions": BlockActions,
    "view_submission": ViewSubmission,
    "event_callback": EventCallback,
}
_EVENTS: dict[str, type[Event]] = {"app_home_opened": HomeOpened}

P = TypeVar("P", bound=_Model)


def read_payload(body: Any) -> Payload:
    """The typed payload of a request body as Bolt parsed it; `BadRequest` naming the first
    problem when it is not one Slack sends to this bot."""
    if not isinstance(body, dict) or not body:
        raise BadRequest("the body is not a Slack payload")
    if "command" in body:
        return _validated(SlashCommand, body, "slash command")
    kind = body.get("type")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise BadRequest(f"unknown payload type {str(kind)[:40]!r}")
    payload = _validated(model, body, str(kind))
    if isinstance(payload, EventCallback):
        event_model = _EVENTS.get(payload.event.type, Event)
        event = _validated(event_model, body["event"], f"{payload.event.type} event")
        payload = payload.model_copy(update={"event": event})
    return payload  # type: ignore[return-value]


def _validated(model: type[P], data: Any, what: str) -> P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(f"{what}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "payload"
    return f"{where}: {error['msg']}"


def payload_of(context: Any, kind: type[P]) -> P:
    """The payload `read_payload` put in the Bolt context, as the kind the listener handles."""
    payload = context.get(CONTEXT_KEY)
    if not isinstance(payload, kind):
        raise BadRequest(f"expected a {kind.__name__} payload")
    return payload
