"""Driving a run from the command line: answer what it waits on, resume, repeat.

This is the same loop the bot runs for a Slack click (record the answer exactly once, then resume),
only with answers from a file or the terminal. When no answer is available the loop stops and the
run stays WAITING_FOR_HUMAN in the database, to be resumed by a later `hitlbot resume`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cli.answer_sources import Answer, AnswerSource, StoppedAnswering
from bot.cli.render import Transcript
from runtime.engine import AlreadyAnsweredError, Engine, RunOutcome
from runtime.errors import AnswerError, HitlbotError
from runtime.models import PendingRequest, RunStatus


@dataclass
class SessionEnd:
    """Where driving stopped. `stopped` is True when the person left a prompt (Ctrl-C/Ctrl-D)."""

    outcome: RunOutcome
    stopped: bool = False


class AnswerDoesNotFit(HitlbotError):
    """A scripted answer the request refuses. Names the answer, the request and the run."""

    def __init__(self, answer: Answer, pending: PendingRequest, reason: str) -> None:
        self.pending = pending
        super().__init__(
            f"{answer.origin} does not fit {pending.request.request_type} request "
            f"{pending.request_id} ({pending.request.message!r}): {reason} "
            f"(run {pending.run_id[:8]} is still waiting)"
        )


def drive(
    engine: Engine, outcome: RunOutcome, answers: AnswerSource, transcript: Transcript
) -> SessionEnd:
    """Answer and resume until the run ends or no answer is available."""
    transcript.events(outcome.events)
    answered: set[str] = set()
    while outcome.run.status is RunStatus.WAITING_FOR_HUMAN and outcome.pending is not None:
        pending = outcome.pending
        if pending.request_id in answered:
            raise HitlbotError(
                f"run {outcome.run.run_id[:8]} still waits on {pending.request_id} after it was "
                "answered; the procedure or the database is inconsistent"
            )
        if pending.response is None:  # answered elsewhere since it suspended: just resume
            transcript.request(pending)
            try:
                answer = answers.next_answer(pending)
            except StoppedAnswering:
                return SessionEnd(outcome, stopped=True)
            if answer is None:
                return SessionEnd(outcome)
            _apply(engine, pending, answer, transcript)
        answered.add(pending.request_id)
        outcome = engine.resume(outcome.run.run_id)
        transcript.events(outcome.events)
    return SessionEnd(outcome)


def _apply(engine: Engine, pending: PendingRequest, answer: Answer, transcript: Transcript) -> None:
    """Record one answer exactly once; losing the race to another responder is not an error."""
    try:
        if answer.timed_out:
            recorded = engine.time_out(pending.request_id)
        else:
            recorded = engine.answer(pending.request_id, answer.value, responder=answer.responder)
    except AlreadyAnsweredError as exc:
        transcript.already_answered(str(exc))
        return
    except AnswerError as exc:
        raise AnswerDoesNotFit(answer, pending, str(exc)) from None
    transcript.answered(recorded, answer.origin)
