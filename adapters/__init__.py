"""Implementations of the runtime protocols (SQL storage, Plexus over GraphQL)."""
