"""Fixtures for the Plexus adapters: devplexus over real HTTP, its control API, a client.

- `devplexus`: one devplexus per test module, serving in a thread of its own (so the adapters'
  blocking methods can be called straight from a test), reset to its seed before each test.
- `plexus`: a `PlexusControl` for it (records, dashboard answers, faults, call counts).
- `waits`: the retry waits a client asked for; they take no real time.
- `client`: a `PlexusClient` configured from devplexus's environment, waiting on `waits`.
- `procedure_id`: a fresh Procedure record in the seeded account.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.plexus import PlexusClient, load_plexus_settings
from adapters.plexus.client import Operation
from adapters.plexus.operations import CREATE_PROCEDURE, GET_PROCEDURE
from adapters.plexus.retry import RetryPolicies, RetryPolicy
from devplexus import DevPlexus, DevPlexusConfig

API_KEY = "da2-adapterstestkey0000000000"


class ServedDevPlexus:
    """A devplexus whose event loop runs in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = DevPlexus(DevPlexusConfig(api_key=API_KEY))
        self._wait(self.server.start())

    def _wait(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    @property
    def env(self) -> dict[str, str]:
        return self.server.env

    def stop(self) -> None:
        self._wait(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class PlexusControl:
    """devplexus's control API (/_dev/api/), over HTTP."""

    def __init__(self, served: ServedDevPlexus) -> None:
        self.served = served
        self.base = served.server.base_url + "/_dev/api"

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def reset(self) -> None:
        self._call("/reset", {})

    def records(self, model: str, **equals: Any) -> list[dict[str, Any]]:
        items = self._call(f"/records/{model}")["items"]
        return [i for i in items if all(i.get(k) == v for k, v in equals.items())]

    def record(self, model: str, record_id: str) -> dict[str, Any]:
        return self._call(f"/records/{model}/{record_id}")["item"]

    def respond(self, message_id: str, **answer: Any) -> dict[str, Any]:
        """Answer as Plexus's dashboard does (`action`, `text`, `user_id`)."""
        return self._call("/respond", {"message_id": message_id, **answer})["message"]

    def faults(self, **rule: Any) -> None:
        self._call("/faults", rule)

    def clear_faults(self) -> None:
        self._call("/faults", {"clear": True})

    def calls(self) -> dict[str, int]:
        """GraphQL calls so far, by operation name."""
        operations = self._call("/stats")["operations"]
        return {name: counts["calls"] for name, counts in operations.items()}

    def total_calls(self) -> int:
        return sum(self.calls().values())

    @property
    def account_id(self) -> str:
        return self._call("/info")["account"]["id"]


class Waits:
    """Retry waits on a clock of their own: asked for, recorded, never really waited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.on_sleep: Any = None  # an async hook run at each wait (a test changing faults)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            await self.on_sleep()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[ServedDevPlexus]:
    server = ServedDevPlexus()
    yield server
    server.stop()


@pytest.fixture
def plexus(served: ServedDevPlexus) -> PlexusControl:
    control = PlexusControl(served)
    control.reset()
    return control


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def no_plexus_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from what a test passes, never from the machine's environment."""
    for name in (
        "PLEXUS_API_URL",
        "PLEXUS_API_KEY",
        "PLEXUS_ACCOUNT_KEY",
        "PLEXUS_GRAPHQL_AUTH_MODE",
        "PLEXUS_API_REGION",
        "NEXT_PUBLIC_PLEXUS_API_URL",
        "NEXT_PUBLIC_PLEXUS_API_KEY",
        "NEXT_PUBLIC_PLEXUS_API_REGION",
    ):
        monkeypatch.delenv(name, raising=False)


#: Short policies, so a test of giving up does not make dozens of calls.
POLICIES = RetryPolicies(
    read=RetryPolicy(attempts=4, within_seconds=30.0),
    write=RetryPolicy(attempts=4, within_seconds=30.0),
    chat=RetryPolicy(attempts=3, within_seconds=30.0),
)


def make_client(
    served: ServedDevPlexus,
    waits: Waits,
    *,
    policies: RetryPolicies = POLICIES,
    **settings: Any,
) -> PlexusClient:
    env = served.env
    values = {
        "api_url": env["PLEXUS_API_URL"],
        "api_key": env["PLEXUS_API_KEY"],
        "account_key": env["PLEXUS_ACCOUNT_KEY"],
        **settings,
    }
    return PlexusClient(
        load_plexus_settings(**values),
        policies=policies,
        sleep=waits.sleep,
        monotonic=waits.monotonic,
        random_fraction=lambda: 1.0,
    )


@pytest.fixture
def client(
    served: ServedDevPlexus, plexus: PlexusControl, waits: Waits, no_plexus_env: None
) -> Iterator[PlexusClient]:
    opened = make_client(served, waits)
    yield opened
    opened.close()


def create_procedure(client: PlexusClient, *, metadata: Any = None, **fields: Any) -> str:
    account_id = client.call(client.account_id)
    values = {"name": "Restart service", "accountId": account_id, "status": "PENDING", **fields}
    if metadata is not None:
        values["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    record, _ = client.call(client.create, CREATE_PROCEDURE, GET_PROCEDURE, values)
    return str(record["id"])


@pytest.fixture
def procedure_id(client: PlexusClient) -> str:
    return create_procedure(client)


def graphql(client: PlexusClient, name: str, text: str, **variables: Any) -> dict[str, Any]:
    """Send an operation of a test's own (what another Plexus writer would send)."""
    return client.call(client.execute, Operation(name, text), variables)
