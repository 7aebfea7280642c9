"""Fixtures: a devplexus in-process on a movable clock, and clients over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from devplexus import DevPlexus, DevPlexusConfig
from tests.conftest import FakeClock
from tests.devplexus.helpers import Plexus, gql_client


@pytest_asyncio.fixture
async def plexus(clock: FakeClock) -> AsyncIterator[Plexus]:
    server = DevPlexus(DevPlexusConfig(), clock=clock)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, gql_client(server) as session:
            yield Plexus(server, session, http)
    finally:
        await server.stop()
