"""Procedures kept in Plexus: `/procedure run plexus:<id>` and the Plexus part of `/procedure
list`.

A Plexus Procedure holds its YAML in `code`; a Procedure without it takes its template's
(`parentProcedureId`), as Plexus's own lookup does (plexus-graphql.md §9; `builtin:` ids and
code kept in S3 are not served here, and say so). The YAML is read in a worker, like any
procedure file, under the name `plexus-<id8>.yaml`, and a run started from it keeps that text:
its resumes execute the code it started with, whatever is edited in Plexus meanwhile, and the
run is mirrored into that Procedure rather than a new one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.plexus import PlexusClient, PlexusNotFoundError
from adapters.plexus.client import Operation
from bot.mrkdwn import escape
from runtime.errors import HitlbotError
from runtime.procedure import Procedure

PREFIX = "plexus:"
"""How a command names a procedure kept in Plexus: `plexus:<Procedure id>`."""
LISTED = 20

GET_PROCEDURE_CODE = Operation(
    "GetProcedureCode",
    """
    query GetProcedureCode($id: ID!) {
      getProcedure(id: $id) {
        id name description code parentProcedureId isTemplate status metadata
      }
    }
    """,
)

LIST_ACCOUNT_PROCEDURES = Operation(
    "ListAccountProcedures",
    """
    query ListAccountProcedures($accountId: String!, $limit: Int, $nextToken: String) {
      listProcedureByAccountIdAndUpdatedAt(
        accountId: $accountId, sortDirection: DESC, limit: $limit, nextToken: $nextToken
      ) {
        items { id name description isTemplate status metadata }
        nextToken
      }
    }
    """,
)


class PlexusProcedureError(HitlbotError):
    pass


@dataclass(frozen=True)
class PlexusProcedure:
    """A procedure read from Plexus, ready to run: the Procedure's id, its YAML, the parse."""

    plexus_id: str
    code: str
    procedure: Procedure


def path_for(plexus_id: str) -> str:
    """The name a Plexus procedure's YAML is read under (its procedure id: `plexus-<id8>`)."""
    return f"plexus-{plexus_id[:8]}.yaml"


class PlexusProcedures:
    def __init__(self, client: PlexusClient, load: Callable[[str, str], Procedure]) -> None:
        """`load(path, text)` parses a procedure's YAML (the worker pool's, in the bot)."""
        self.client = client
        self._load = load

    async def get(self, plexus_id: str) -> PlexusProcedure:
        """The procedure of the Plexus Procedure `plexus_id`; a clear error when there is none
        or it holds no code this bot can run."""
        record = await self._record(plexus_id)
        code = record.get("code")
        if not code and record.get("parentProcedureId"):
            code = (await self._record(str(record["parentProcedureId"]))).get("code")
        if not code:
            kept = _metadata(record).get("code_s3_key")
            where = f" (it is kept in S3, at {kept}, which this bot does not read)" if kept else ""
            raise PlexusProcedureError(f"Plexus procedure `{plexus_id}` has no code to run{where}")
        procedure = await asyncio.to_thread(self._load, path_for(plexus_id), str(code))
        return PlexusProcedure(plexus_id, str(code), procedure)

    async def _record(self, plexus_id: str) -> dict[str, Any]:
        if plexus_id.startswith("builtin:"):
            raise PlexusProcedureError(
                f"`{plexus_id}` is one of Plexus's built-in procedures, which run in Plexus only"
            )
        try:
            return await self.client.require_record(GET_PROCEDURE_CODE, plexus_id, "Procedure")
        except PlexusNotFoundError:
            raise PlexusProcedureError(f"Plexus has no procedure `{plexus_id}`") from None

    async def listing(self) -> list[dict[str, Any]]:
        """The account's procedures people can start here (templates, and procedures not run
        yet), most recently updated first; not the runs this bot mirrored."""
        account_id = await self.client.account_id()
        if not account_id:
            return []
        data = await self.client.execute(
            LIST_ACCOUNT_PROCEDURES, {"accountId": account_id, "limit": 100}
        )
        items = data["listProcedureByAccountIdAndUpdatedAt"]["items"]
        startable = [
            item
            for item in items
            if item
            and "hitlbot" not in _metadata(item)
            and (item.get("isTemplate") or item.get("status") in (None, "PENDING"))
        ]
        return startable[:LISTED]


def _metadata(record: dict[str, Any]) -> dict[str, Any]:
    raw = record.get("metadata")
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def plexus_listing_text(items: list[dict[str, Any]], command: str) -> str:
    """The Plexus part of `/procedure list` (mrkdwn), empty when there is nothing to list."""
    if not items:
        return ""
    lines = ["", "*In Plexus* (parameters on the command line)"]
    for item in items:
        name = escape(str(item.get("name") or item["id"]))
        line = f"• `{PREFIX}{escape(item['id'])}` {name}"
        if item.get("description"):
            line += f": {escape(str(item['description'])[:120])}"
        lines.append(line)
    lines.append(f"Start one with `{escape(command)} run {PREFIX}<id> key=value ...`")
    return "\n".join(lines)
