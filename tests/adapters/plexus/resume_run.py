"""Resume a run kept in Plexus from a process of its own, as another bot replica would:

    python -m tests.adapters.plexus.resume_run PROCEDURE_ID PROCEDURE_FILE

Configured from the PLEXUS_* environment; prints the outcome as JSON.
"""

from __future__ import annotations

import sys

from adapters.plexus import PlexusClient, PlexusRunner
from runtime.loader import load_procedure


def main() -> None:
    procedure_id, path = sys.argv[1:3]
    with PlexusClient() as client:
        outcome = PlexusRunner(client).resume(procedure_id, load_procedure(path))
    print(outcome.model_dump_json())


if __name__ == "__main__":
    main()
