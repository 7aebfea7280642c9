"""The machine-readable views of runs: what `--json` prints.

Built from the store after the command is done, not from what this process happened to see, so
the report of a resumed run covers every request and notification since it started.
"""

from __future__ import annotations

from typing import Any

from runtime.models import PendingRequest, RunRecord
from runtime.protocols import RunStore


def run_report(store: RunStore, run: RunRecord) -> dict[str, Any]:
    events = store.list_events(run.run_id)
    return {
        "run_id": run.run_id,
        "procedure_id": run.procedure_id,
        "status": run.status.value,
        "result": run.result,
        "error": run.error,
        "requests": [request_report(p) for p in store.list_requests(run_id=run.run_id)],
        "notifications": [event.payload for event in events if event.kind == "notify"],
        "state": store.get_state(run.run_id),
    }


def request_report(pending: PendingRequest) -> dict[str, Any]:
    request = pending.request
    response = pending.response
    return {
        "request_id": pending.request_id,
        "request_type": request.request_type,
        "message": request.message,
        "options": request.options,
        "timeout_seconds": request.timeout_seconds,
        "default_value": request.default_value,
        "response": None
        if response is None
        else {
            "value": response.value,
            "timed_out": response.timed_out,
            "responded_at": response.responded_at.isoformat(),
        },
    }


def run_summary(store: RunStore, run: RunRecord) -> dict[str, Any]:
    """One row of `hitlbot runs`: enough to pick a run to resume."""
    waiting = store.get_request(run.waiting_on_message_id) if run.waiting_on_message_id else None
    return {
        "run_id": run.run_id,
        "procedure_id": run.procedure_id,
        "status": run.status.value,
        "updated_at": run.updated_at.isoformat(),
        "waiting_on": None
        if waiting is None
        else {
            "request_id": waiting.request_id,
            "request_type": waiting.request.request_type,
            "message": waiting.request.message,
        },
    }
