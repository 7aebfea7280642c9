"""The procedures the bot can run: the files of one directory, addressed by file name.

Files are re-read when they change (noticed within a second of `refresh`), so editing a
procedure needs no restart; a file that no longer loads is reported (to whoever asks for it,
and in `/procedure list`) without hiding the others.

Reading a file can run code: a `.tac` file declares itself by running its top level, and a YAML
file can be built to expand into gigabytes. So files are never read on the event loop: the
listeners only read the last snapshot, `refresh` (the server's background loop) looks at the
directory in a thread and reads each changed file with `load`, which in the bot is the worker
pool's: a hostile file costs one bounded, killable worker execution, and only when it changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from runtime.errors import HitlbotError, ProcedureLoadError
from runtime.loader import load_catalog, load_procedure
from runtime.procedure import Procedure

RECHECK_SECONDS = 1.0

Stamp = tuple[float, int]
"""What tells a file changed: its modification time and size."""


class UnknownProcedureError(HitlbotError):
    pass


class ProcedureCatalog:
    def __init__(
        self,
        directory: Path,
        *,
        load: Callable[[str], Procedure] = load_procedure,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self._load = load
        self._clock = clock
        self._checked_at: float | None = None
        self._stamps: dict[str, Stamp] | None = None
        self._read: dict[str, tuple[Stamp, Procedure | ProcedureLoadError]] = {}
        self._procedures: dict[str, Procedure] = {}
        self._errors: list[ProcedureLoadError] = []
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Re-read the files that changed, looking at the directory at most once a second."""
        async with self._lock:
            now = self._clock()
            if self._checked_at is not None and now - self._checked_at < RECHECK_SECONDS:
                return
            self._checked_at = now
            stamps = await asyncio.to_thread(self._stamps_now)
            if stamps == self._stamps:
                return
            catalog = await asyncio.to_thread(load_catalog, self.directory, self._cached_load)
            self._procedures, self._errors = catalog
            self._stamps = stamps
            self._read = {path: read for path, read in self._read.items() if path in stamps}

    def _stamps_now(self) -> dict[str, Stamp]:
        stamps = {}
        for path in self.directory.iterdir():
            try:
                info = path.stat()
            except OSError:  # gone since the listing
                continue
            stamps[str(path)] = (info.st_mtime, info.st_size)
        return stamps

    def _cached_load(self, path: str) -> Procedure:
        """A file's procedure as last read, unless the file changed since."""
        try:
            info = Path(path).stat()
        except OSError:
            return self._load(path)  # reports it as the loader would
        stamp = (info.st_mtime, info.st_size)
        cached = self._read.get(path)
        if cached is None or cached[0] != stamp:
            try:
                outcome: Procedure | ProcedureLoadError = self._load(path)
            except ProcedureLoadError as exc:
                outcome = exc
            cached = self._read[path] = (stamp, outcome)
        if isinstance(cached[1], ProcedureLoadError):
            raise cached[1]
        return cached[1]

    # -- what listeners read: the last snapshot, never the disk ----------------------------------

    def procedures(self) -> dict[str, Procedure]:
        return dict(self._procedures)

    def errors(self) -> list[ProcedureLoadError]:
        return list(self._errors)

    def is_broken(self, procedure_id: str) -> bool:
        """True when a file of that name exists but does not load."""
        return any(Path(e.path).stem == procedure_id for e in self._errors)

    def get(self, procedure_id: str) -> Procedure:
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
