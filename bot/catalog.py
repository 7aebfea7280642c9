"""The procedures the bot can run: the files of one directory, addressed by file name.

Files are re-read when they change (noticed within a second), so editing a procedure needs no
restart; a file that no
longer loads is reported (to whoever asks for it, and in `/procedure list`) without hiding the
others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from runtime.errors import HitlbotError, ProcedureLoadError
from runtime.loader import load_catalog
from runtime.procedure import Procedure

RECHECK_SECONDS = 1.0


class UnknownProcedureError(HitlbotError):
    pass


class ProcedureCatalog:
    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self._clock = clock
        self._checked_at: float | None = None
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._procedures: dict[str, Procedure] = {}
        self._errors: list[ProcedureLoadError] = []

    def _refresh(self) -> None:
        """Re-read changed files, looking at the directory at most once a second (hot path)."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < RECHECK_SECONDS:
            return
        self._checked_at = now
        stamp = tuple(
            sorted((p.name, p.stat().st_mtime) for p in self.directory.iterdir() if p.is_file())
        )
        if stamp != self._stamp:
            self._procedures, self._errors = load_catalog(self.directory)
            self._stamp = stamp

    def procedures(self) -> dict[str, Procedure]:
        self._refresh()
        return dict(self._procedures)

    def errors(self) -> list[ProcedureLoadError]:
        self._refresh()
        return list(self._errors)

    def is_broken(self, procedure_id: str) -> bool:
        """True when a file of that name exists but does not load."""
        return any(Path(e.path).stem == procedure_id for e in self.errors())

    def get(self, procedure_id: str) -> Procedure:
        self._refresh()
        procedure = self._procedures.get(procedure_id)
        if procedure is not None:
            return procedure
        broken = next((e for e in self._errors if Path(e.path).stem == procedure_id), None)
        if broken is not None:
            where = Path(broken.path).name + (f":{broken.line}" if broken.line else "")
            raise UnknownProcedureError(
                f"procedure `{procedure_id}` does not load ({where}): {broken.detail}"
            )
        known = ", ".join(f"`{name}`" for name in sorted(self._procedures)) or "none"
        raise UnknownProcedureError(f"no procedure named `{procedure_id}` (available: {known})")
