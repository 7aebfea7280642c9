"""The HITL handler the runtime uses by default: answers come from the run store.

A request with a recorded answer returns it; one without is added to the execution's new
requests (committed with the run) and the run suspends. Nothing here blocks: whoever answers
(the CLI, a Slack click, a timeout, Plexus) records the answer in the store and resumes the run.
"""

from __future__ import annotations

from typing import Any, Protocol

from runtime.errors import HitlbotError, ProcedureWaitingForHuman
from runtime.models import HITLRequest, HITLResponse, PendingRequest


class RequestCancelledError(HitlbotError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id} was cancelled")


class RequestLookup(Protocol):
    """The part of a `RunStore` the handler needs (a snapshot of requests will do too)."""

    def get_request(self, request_id: str) -> PendingRequest | None: ...

    def cancel_request(self, request_id: str) -> bool: ...


class KnownRequests:
    """Requests read from the store before an execution, for one that cannot reach the store
    (it runs in a worker process): the requests its log shows as waiting."""

    def __init__(self, requests: list[PendingRequest]) -> None:
        self._requests = {request.request_id: request for request in requests}

    def get_request(self, request_id: str) -> PendingRequest | None:
        return self._requests.get(request_id)

    def cancel_request(self, request_id: str) -> bool:
        raise HitlbotError("requests are cancelled through the engine, not during an execution")


class StoreHITLHandler:
    """`HITLHandler` over a `RunStore` (or the `KnownRequests` read from one)."""

    def __init__(self, store: RequestLookup) -> None:
        self.store = store

    def request_interaction(
        self, procedure_id: str, request: HITLRequest, execution_context: Any = None
    ) -> HITLResponse:
        if execution_context is None:
            raise HitlbotError("StoreHITLHandler needs the execution context (for the position)")
        position = execution_context.next_position()
        request_id = execution_context.request_id_at(position)
        stored = self.store.get_request(request_id)
        if stored is not None and stored.response is not None:
            return stored.response
        if stored is not None and stored.cancelled:
            raise RequestCancelledError(request_id)
        if stored is None:
            execution_context.add_request(position, request)
        raise ProcedureWaitingForHuman(procedure_id, request_id)

    def check_pending_response(self, procedure_id: str, message_id: str) -> HITLResponse | None:
        stored = self.store.get_request(message_id)
        return stored.response if stored is not None else None

    def cancel_pending_request(self, procedure_id: str, message_id: str) -> None:
        self.store.cancel_request(message_id)
