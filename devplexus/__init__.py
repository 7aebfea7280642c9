"""devplexus: a strict local stand-in for Plexus's GraphQL API (AppSync), with a dashboard."""

from devplexus.config import DevPlexusConfig
from devplexus.server import DevPlexus

__all__ = ["DevPlexus", "DevPlexusConfig"]
