"""Plexus over GraphQL: the three Tactus adapters of Plexus's runner, and a runner using them.

- `PlexusClient`: Plexus's AppSync API on gql's aiohttp transport, configured from `PLEXUS_*`
  as Plexus's own client is, with retries.
- `PlexusStorageAdapter`: checkpoints, state, Lua state and the execution log in
  `Procedure.metadata`; status and the waiting message in the record's own fields.
- `PlexusChatRecorder` / `PlexusChatAdapter`: a run's chat session and messages.
- `PlexusHITLAdapter`: requests for a person as `PENDING_*` messages, answers read back.
- `PlexusAnswerFeed`: the answers given in Plexus to every run, in one query.
- `PlexusRunner`: runs procedures with Plexus as their storage, chat and HITL handler.
"""

from adapters.plexus.answers import GivenAnswer, PlexusAnswerFeed
from adapters.plexus.chat import PlexusChatAdapter, PlexusChatRecorder
from adapters.plexus.client import PlexusClient
from adapters.plexus.errors import (
    PlexusAuthError,
    PlexusConfigError,
    PlexusDataError,
    PlexusError,
    PlexusGraphQLError,
    PlexusNotFoundError,
    PlexusUnavailableError,
)
from adapters.plexus.hitl import PlexusHITLAdapter
from adapters.plexus.metadata import BlobReader, S3BlobReader
from adapters.plexus.retry import RetryPolicies, RetryPolicy
from adapters.plexus.runner import PlexusOutcome, PlexusRunner
from adapters.plexus.settings import PlexusSettings, load_plexus_settings
from adapters.plexus.storage import PlexusStorageAdapter

__all__ = [
    "BlobReader",
    "GivenAnswer",
    "PlexusAnswerFeed",
    "PlexusAuthError",
    "PlexusChatAdapter",
    "PlexusChatRecorder",
    "PlexusClient",
    "PlexusConfigError",
    "PlexusDataError",
    "PlexusError",
    "PlexusGraphQLError",
    "PlexusHITLAdapter",
    "PlexusNotFoundError",
    "PlexusOutcome",
    "PlexusRunner",
    "PlexusSettings",
    "PlexusStorageAdapter",
    "PlexusUnavailableError",
    "RetryPolicies",
    "RetryPolicy",
    "S3BlobReader",
    "load_plexus_settings",
]
