"""What the dashboard page shows, and the answers it (or a test) gives.

The page is a thin renderer: which rows are pending, which can be answered, which controls
they get and who answered what are decided here, in one place the tests can reach.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from devplexus.catalog import Catalog, Model
from devplexus.responses import (
    BUTTONS,
    PENDING_TYPES,
    TEXT_LABELS,
    Answer,
    RespondError,
    check_answerable,
    control_envelope,
    parse_metadata,
    request_kind,
    response_input,
)
from devplexus.scalars import encode_json, iso_timestamp
from devplexus.store import Store
from devplexus.writes import Writer


def as_output(model: Model, item: dict[str, Any]) -> dict[str, Any]:
    """An item as GraphQL returns it: declared attributes only, AWSJSON as JSON text."""
    return {
        name: encode_json(item[name]) if name in model.json_attributes else item[name]
        for name in model.attributes
        if name in item
    }


def _message_order(message: dict[str, Any]) -> tuple[str, int]:
    sequence = message.get("sequenceNumber")
    return str(message.get("createdAt", "")), sequence if isinstance(sequence, int) else -1


class Dashboard:
    """Reads for the page and writes for its controls."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        writer: Writer,
        clock: Callable[[], datetime],
        response_target: Callable[[], str],
    ) -> None:
        self.messages = catalog.model("ChatMessage")
        self.store = store
        self.writer = writer
        self.clock = clock
        self.response_target = response_target

    # ------------------------------------------------------------------ answering

    def respond(self, message_id: str, answer: Answer) -> dict[str, Any]:
        """Write the RESPONSE row the dashboard writes for `answer`; returns it as output."""
        with self.store.lock:
            pending = self.store.get("ChatMessage", message_id)
            if pending is None:
                raise RespondError("not_found", f"no ChatMessage {message_id}", 404)
            control = check_answerable(pending, self._answered(message_id))
            values = response_input(
                pending,
                control,
                answer,
                responded_at=iso_timestamp(self.clock()),
                response_target=self.response_target(),
            )
            created = self.writer.create(self.messages, values)
        return as_output(self.messages, created)

    def _answered(self, message_id: str) -> bool:
        children = self.store.query(
            "ChatMessage",
            "parentMessageId",
            message_id,
            None,
            None,
            forward=True,
            limit=1_000_000,
            after=None,
        )
        return any(child.get("humanInteraction") == "RESPONSE" for _, child in children)

    # ------------------------------------------------------------------ the page's data

    def view(self) -> dict[str, Any]:
        with self.store.lock:
            procedures = self.store.all("Procedure")
            sessions = self.store.all("ChatSession")
            messages = self.store.all("ChatMessage")
        responses: dict[str, list[dict[str, Any]]] = {}
        by_session: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            by_session.setdefault(message["sessionId"], []).append(message)
            if message.get("humanInteraction") == "RESPONSE" and message.get("parentMessageId"):
                responses.setdefault(message["parentMessageId"], []).append(message)
        by_procedure: dict[str, list[dict[str, Any]]] = {}
        for session in sorted(sessions, key=lambda s: str(s.get("createdAt", ""))):
            by_procedure.setdefault(session.get("procedureId") or "", []).append(session)
        known = {session["id"] for session in sessions}
        for session_id, own in by_session.items():
            # Messages may name a session nobody created; show them rather than hide them.
            procedure_id = next((m["procedureId"] for m in own if m.get("procedureId")), None)
            if session_id not in known and procedure_id:
                by_procedure.setdefault(procedure_id, []).append(
                    {"id": session_id, "missing": True}
                )
        procedures.sort(key=lambda p: str(p.get("updatedAt", "")), reverse=True)
        return {
            "procedures": [
                {
                    **{k: p.get(k) for k in ("id", "name", "status", "waitingOnMessageId")},
                    "updatedAt": p.get("updatedAt"),
                    "sessions": [
                        self._session(s, by_session.get(s["id"], []), responses)
                        for s in by_procedure.get(p["id"], [])
                    ],
                }
                for p in procedures
            ]
        }

    def _session(
        self,
        session: dict[str, Any],
        messages: list[dict[str, Any]],
        responses: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        keys = ("id", "name", "category", "status", "createdAt")
        return {
            **{k: session.get(k) for k in keys},
            "missing": bool(session.get("missing")),
            "messages": [self._message(m, responses) for m in sorted(messages, key=_message_order)],
        }

    @staticmethod
    def _message(
        message: dict[str, Any], responses: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        keys = (
            "id",
            "role",
            "humanInteraction",
            "messageType",
            "content",
            "createdAt",
            "sequenceNumber",
            "createdByUserId",
            "responseStatus",
            "responseTarget",
            "parentMessageId",
        )
        view: dict[str, Any] = {k: message.get(k) for k in keys}
        metadata = parse_metadata(message.get("metadata"))
        view["metadata"] = metadata
        view["pending"] = message.get("humanInteraction") in PENDING_TYPES
        view["answered"] = bool(responses.get(message["id"]))
        view["refusal"] = None
        view["controls"] = None
        control = metadata.get("control") if metadata else None
        if message.get("humanInteraction") == "RESPONSE" and isinstance(control, dict):
            view["response"] = {
                "value": control.get("value"),
                "responder": control.get("responder"),
                "user": message.get("createdByUserId"),
            }
        if view["pending"] and not view["answered"]:
            envelope, refusal = control_envelope(message)
            view["refusal"] = refusal
            if envelope is not None:
                kind = request_kind(envelope["request_type"])
                view["request_type"] = envelope["request_type"]
                view["controls"] = {
                    "buttons": [
                        {"action": action, "label": label, "style": style}
                        for action, label, style in BUTTONS[kind]
                    ],
                    "text_label": TEXT_LABELS.get(kind),
                }
        return view
