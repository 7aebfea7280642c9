"""Answers given in Plexus come back: the run resumes and Slack shows who answered there.

Someone who answers a pending request in Plexus's dashboard (or with `plexus chat send --mode
response`) writes a `RESPONSE` row that stays `responseStatus: PENDING` under
`responseTarget: cloud`. Every poll reads all such rows in one indexed query (and its pages),
whatever the number of waiting runs (`adapters.plexus.PlexusAnswerFeed`), records each answer to
one of our requests through the engine's compare-and-set, exactly as a click does (so whichever
side answered first wins, once), and marks the row taken. One process polls at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from adapters.plexus import GivenAnswer, PlexusAnswerFeed, PlexusAuthError, PlexusError
from bot.blocks import PLEXUS_RESPONDER
from bot.liveness import Liveness
from bot.service import RunService
from runtime.models import PendingRequest

log = logging.getLogger("hitlbot.plexus")


class PlexusAnswers:
    def __init__(self, feed: PlexusAnswerFeed, service: RunService, liveness: Liveness) -> None:
        self.feed = feed
        self.service = service
        self.liveness = liveness

    async def poll(self) -> None:
        """Take every answer given in Plexus since the last poll."""
        if not await asyncio.to_thread(functools.partial(self.liveness.hold, "plexus:answers")):
            return  # another process polls
        try:
            answers = await self.feed.untaken()
        except PlexusAuthError as exc:
            log.error("Plexus refused the bot's credentials: %s", exc)
            return
        except PlexusError as exc:
            log.warning("could not read answers from Plexus (%s); trying again", exc)
            return
        for answer in answers:
            await self._take(answer)

    async def _take(self, answer: GivenAnswer) -> None:
        if not answer.request_id:
            return
        pending = await self.service.pending_request(answer.request_id)
        if pending is None:
            return  # not a request of this bot's: another host's to take
        responder = PLEXUS_RESPONDER + (answer.responder or "someone")
        if pending.response is None and not pending.cancelled:
            value = answer.value_for(pending.request)
            await self.service.record_answer(answer.request_id, value, responder=responder)
            pending = await self.service.pending_request(answer.request_id) or pending
        try:
            if pending.response is not None and pending.response.responder == responder:
                await self.feed.take(answer)
            else:  # lost to a click in Slack (or a timeout, or a cancel): say so in Plexus
                await self.feed.refuse(answer, f"Not applied: {_first(pending)}")
        except PlexusError as exc:  # looked at again next time: recording twice records once
            log.warning("could not mark Plexus answer %s taken: %s", answer.message_id, exc)


def _first(pending: PendingRequest) -> str:
    """What settled the request first, in words for Plexus's dashboard."""
    response = pending.response
    if response is None:
        return "the request was cancelled" if pending.cancelled else "the answer did not fit"
    if response.timed_out:
        return "the request had timed out"
    return f"{response.responder or 'someone'} answered first"
