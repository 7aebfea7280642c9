"""Answers given in Plexus, for every run at once: one query whatever the number of waiting runs.

Plexus's dashboard writes an answer as a `RESPONSE` row with `responseTarget` 'cloud' and
`responseStatus` PENDING, and nothing in Plexus ever changes that status. So the answers
still PENDING under that target are the ones nobody has taken yet, and Plexus keeps an index
on exactly that (`responseTarget` + `responseStatus` + `createdAt`). A host polls `untaken()`,
records each answer where its runs live (the engine's compare-and-set decides if it counts),
then `take()`s it, so the next poll does not see it again. `PlexusHITLAdapter` takes the
answers it hands to a run the same way.

Asking each waiting request for its answer instead would cost a query per waiting run per
poll; this costs one query (and its pages) per poll.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from adapters.plexus.client import Operation, PlexusClient
from adapters.plexus.control import (
    RESPONSE_TARGET,
    control_of,
    dashboard_value,
    responder_of,
)
from adapters.plexus.operations import MESSAGE_FIELDS, UPDATE_CHAT_MESSAGE
from runtime.models import HITLRequest

log = logging.getLogger("hitlbot.plexus")

LIST_UNTAKEN_ANSWERS = Operation(
    "ListUntakenAnswers",
    f"""
    query ListUntakenAnswers($responseTarget: String!, $limit: Int, $nextToken: String) {{
      listChatMessageByResponseTargetAndResponseStatusAndCreatedAt(
        responseTarget: $responseTarget
        responseStatusCreatedAt: {{ beginsWith: {{ responseStatus: PENDING }} }}
        filter: {{ humanInteraction: {{ eq: RESPONSE }} }}
        limit: $limit
        nextToken: $nextToken
      ) {{
        items {{ {MESSAGE_FIELDS} }}
        nextToken
      }}
    }}
    """,
)


@dataclass(frozen=True)
class GivenAnswer:
    """An answer written in Plexus, as written: the host checks it against its request."""

    message_id: str  # the RESPONSE row
    pending_message_id: str
    request_id: str | None  # the runtime's request id, from the envelope
    procedure_id: str | None  # the Plexus Procedure
    value: Any
    timed_out: bool
    responder: str | None
    responded_at: str
    created_at: str

    def value_for(self, request: HITLRequest) -> Any:
        """The value in the runtime's vocabulary for `request` (the dashboard says
        "request_changes" and `{action, input}` where procedures expect their options)."""
        return self.value if self.timed_out else dashboard_value(request, self.value)


def given_answer(row: dict[str, Any]) -> GivenAnswer | None:
    """The answer a RESPONSE row carries; None when it is not a canonical answer."""
    control = control_of(row)
    if control is None or "value" not in control or not row.get("parentMessageId"):
        return None
    return GivenAnswer(
        message_id=str(row["id"]),
        pending_message_id=str(row["parentMessageId"]),
        request_id=control.get("request_id"),
        procedure_id=control.get("procedure_id") or row.get("procedureId"),
        value=control["value"],
        timed_out=bool(control.get("timed_out")),
        responder=responder_of(row, control),
        responded_at=str(control.get("responded_at") or row["createdAt"]),
        created_at=str(row["createdAt"]),
    )


class PlexusAnswerFeed:
    """The answers written in Plexus that no one has taken yet, oldest first."""

    def __init__(self, client: PlexusClient, *, response_target: str = RESPONSE_TARGET) -> None:
        """`response_target` is where the dashboard sends answers
        (`NEXT_PUBLIC_CONSOLE_RESPONSE_TARGET`, 'cloud' unless a deployment changed it)."""
        self.client = client
        self.response_target = response_target

    async def untaken(self) -> list[GivenAnswer]:
        rows = await self.client.run(
            self.client.pages, LIST_UNTAKEN_ANSWERS, {"responseTarget": self.response_target}
        )
        answers = []
        for row in rows:
            answer = given_answer(row)
            if answer is None:
                log.debug("Plexus RESPONSE %s is not a canonical answer; left alone", row["id"])
                continue
            answers.append(answer)
        return answers

    async def refuse(self, answer: GivenAnswer, reason: str) -> None:
        """Mark the answer taken but not applied (someone answered first elsewhere): the
        dashboard shows it `FAILED` with `reason`, and the feed no longer does."""
        values = {
            "id": answer.message_id,
            "responseStatus": "FAILED",
            "responseError": reason[:500],
            "createdAt": answer.created_at,  # Plexus's index rule: with responseStatus
        }
        await self.client.execute(
            UPDATE_CHAT_MESSAGE, {"input": values}, policy=self.client.policies.write
        )

    async def take(self, answer: GivenAnswer) -> None:
        """Mark the answer taken (the dashboard still shows it; the feed no longer does)."""
        values = {"id": answer.message_id, "responseStatus": "COMPLETED"}
        values["createdAt"] = answer.created_at  # Plexus's index rule: with responseStatus
        await self.client.execute(
            UPDATE_CHAT_MESSAGE, {"input": values}, policy=self.client.policies.write
        )
