"""Rules every run store follows, whatever keeps the data.

What a checkpoint name addresses, the two call shapes of `save_procedure_metadata`, which
statuses exist and how timestamps are normalised are decided here once; `MemoryStore` and the
SQL store both apply them, and one test suite holds both to them. `runtime/` may import nothing
of the adapters, but the adapters may import the runtime, so the rules live here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from runtime.models import ProcedureMetadata, RunStatus

_LOG_POSITION = re.compile(r"(?:pos)?([0-9]+)")


def log_position(name: str) -> int | None:
    """The execution-log position a checkpoint name addresses (`pos3`, `3`), or None.

    Named checkpoints and the position-based log share one namespace in the seed's API, so
    these names are reserved for the log: `checkpoint_get(run, "pos3")` reads position 3 and
    `checkpoint_clear_after(run, "pos3")` rewinds the log to before it.
    """
    match = _LOG_POSITION.fullmatch(name)
    return int(match.group(1)) if match else None


def check_checkpoint_name(name: str) -> str:
    """Refuse to save a named checkpoint under a name that addresses the execution log."""
    if log_position(name) is not None:
        raise ValueError(
            f"checkpoint name {name!r} is reserved: `pos<N>` and integers address positions "
            "of the execution log, which only the runtime writes"
        )
    return name


def metadata_arguments(
    procedure_id: str | ProcedureMetadata, metadata: ProcedureMetadata | None
) -> tuple[str, ProcedureMetadata]:
    """Accept Tactus's `(procedure_id, metadata)` and Plexus's `(metadata)` call shapes."""
    if isinstance(procedure_id, ProcedureMetadata):
        if metadata is not None:
            raise TypeError("save_procedure_metadata takes (procedure_id, metadata) or (metadata)")
        return procedure_id.procedure_id, procedure_id
    if metadata is None:
        raise TypeError("save_procedure_metadata(procedure_id, ...) needs the metadata to save")
    return procedure_id, metadata


def run_status(status: str) -> RunStatus:
    """Validate a status string now, so a typo fails the writer and not every later reader."""
    try:
        return RunStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise ValueError(f"unknown run status {status!r} (expected one of: {known})") from None


def as_utc(moment: datetime) -> datetime:
    """Timestamps are stored in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def model_json(model: BaseModel) -> str:
    """JSON text of a model, its own timestamps normalised to UTC as `SqlStore` columns are."""
    stamps = {name: as_utc(value) for name, value in model if isinstance(value, datetime)}
    return model.model_copy(update=stamps).model_dump_json()


class StateKeyMethods:
    """The per-key state methods of the seed's storage API, over a store's whole-state ones.

    A store provides `get_state` and `_edit_state` (a read-modify-write under its own lock);
    these follow from them, identically for every store.
    """

    def get_state(self, procedure_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def _edit_state(self, run_id: str, edit: Callable[[dict[str, Any]], object]) -> None:
        raise NotImplementedError

    def state_get(self, procedure_id: str, key: str, default: Any = None) -> Any:
        return self.get_state(procedure_id).get(key, default)

    def state_set(self, procedure_id: str, key: str, value: Any) -> None:
        self._edit_state(procedure_id, lambda state: state.__setitem__(key, value))

    def state_delete(self, procedure_id: str, key: str) -> None:
        self._edit_state(procedure_id, lambda state: state.pop(key, None))
