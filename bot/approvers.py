"""Who may answer a request: approvers by user id, user name or user group handle.

Procedures name approvers the way people do (`bob`, `@bob`, `@oncall`), Slack's payloads carry
user ids, so names and group handles are resolved through users.list / usergroups.list /
usergroups.users.list. The directory is cached for a minute (on an injectable clock): a click
must be answered within Slack's 3 s, and users.list is a Tier 2 method (20 calls a minute).

By default the person who started a run may not answer its approval and review requests (four
eyes); `allow_self_approval: true` on the call, its hitl declaration or the procedure opts out.

A request without approvers may be answered by anyone in the workspace, and only by them: the
user id a click carries is looked up with users.info (it must exist and not be deactivated).
That answer is cached too (users.info is Tier 4), and when Slack cannot be asked a recent
positive answer still admits the user; without one the click is refused with "try again soon".
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from runtime.models import PendingRequest, RunRecord
from runtime.procedure import Procedure

logger = logging.getLogger("hitlbot.approvers")

#: Request types whose answer is a decision the run's starter must not take alone.
APPROVAL_TYPES = frozenset({"approval", "review"})

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_GROUP_MENTION = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$")

SELF_REASON = "you started this run, and its approvals need someone else"
NOT_APPROVER_REASON = "only this request's approvers may answer it"
UNAVAILABLE_REASON = "I could not look up who may answer (Slack did not respond); try again soon"
NOT_MEMBER_REASON = "only members of this workspace may answer it"
NOT_A_MEMBER = frozenset({"user_not_found", "user_not_visible", "invalid_user"})
MAX_PEOPLE = 10_000  # users whose membership is cached; the oldest answer is dropped first


@dataclass(frozen=True)
class Decision:
    """Whether a user may answer; if not, why and whom to ask (Slack mention syntax)."""

    allowed: bool
    reason: str = ""
    ask: str = ""  # e.g. "ask <!subteam^S0ONCALL1>" or "ask <@U0BOB0001> or <@U0CAROL01>"

    @property
    def text(self) -> str:
        """The ephemeral reply for a refused answer ("" when allowed)."""
        if self.allowed:
            return ""
        return (
            f"You may not answer this: {self.reason}; {self.ask}."
            if self.ask
            else (f"You may not answer this: {self.reason}.")
        )


class DirectoryUnavailable(Exception):
    """Slack could not be asked for users or groups, and nothing is cached."""


@dataclass
class Directory:
    """Users and user groups as last read from Slack."""

    users_by_name: dict[str, str] = field(default_factory=dict)  # lower name/display -> id
    groups_by_handle: dict[str, str] = field(default_factory=dict)  # lower handle -> id
    group_handles: dict[str, str] = field(default_factory=dict)  # id -> handle
    loaded_at: float = 0.0


@dataclass
class Resolved:
    """Approver entries turned into ids: who is in, and how to name them in Slack."""

    users: set[str] = field(default_factory=set)
    groups: dict[str, set[str]] = field(default_factory=dict)  # group id -> member ids
    mentions: list[str] = field(default_factory=list)  # in the configured order
    unresolved: list[str] = field(default_factory=list)

    def contains(self, user_id: str) -> bool:
        return user_id in self.users or any(user_id in m for m in self.groups.values())

    def ask(self, *, exclude: str | None = None) -> str:
        """ "ask <@U1>, <@U2> or <!subteam^S1>" (without `exclude`'s own mention)."""
        names = [m for m in self.mentions if exclude is None or m != f"<@{exclude}>"]
        names += [f"@{raw.lstrip('@')}" for raw in self.unresolved]
        if not names:
            return "ask someone else"
        if len(names) == 1:
            return f"ask {names[0]}"
        return f"ask {', '.join(names[:-1])} or {names[-1]}"

    def add_user(self, user_id: str) -> None:
        if user_id not in self.users:
            self.users.add(user_id)
            self.mentions.append(f"<@{user_id}>")

    def add_group(self, group_id: str, members: Iterable[str]) -> None:
        if group_id not in self.groups:
            self.groups[group_id] = set(members)
            self.mentions.append(f"<!subteam^{group_id}>")


# --------------------------------------------------------------------------- configuration


def _as_list(value: Any) -> list[str]:
    """Approvers as written: a list, a Lua table turned dict, or "bob, @oncall"."""
    if value is None or value is False:
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, dict):
        value = [value[k] for k in sorted(value, key=str)]
    if isinstance(value, list | tuple | set):
        return [str(item).strip() for item in value if str(item).strip()]
    return [str(value)]


def _routing(pending: PendingRequest) -> dict[str, Any]:
    routing = pending.request.metadata.get("hitlbot")
    return routing if isinstance(routing, dict) else {}


def approver_entries(pending: PendingRequest, procedure: Procedure | None) -> list[str]:
    """The call's approvers (a `config_key` declaration is already merged into them), else
    the procedure's top-level `approvers`. An empty list falls through to the next level."""
    entries = _as_list(_routing(pending).get("approvers"))
    if not entries and procedure is not None:
        entries = _as_list(procedure.config.get("approvers"))
    return entries


def self_approval_allowed(pending: PendingRequest, procedure: Procedure | None) -> bool:
    """`allow_self_approval` from the call (or its declaration), else the procedure; no."""
    routing = _routing(pending)
    if routing.get("allow_self_approval") is not None:
        return bool(routing["allow_self_approval"])
    if procedure is not None and procedure.config.get("allow_self_approval") is not None:
        return bool(procedure.config["allow_self_approval"])
    return False


def _user_id_of(value: str | None) -> str | None:
    """A user id from "U123" or "<@U123>" (how a run's starter may have been recorded)."""
    if not value:
        return None
    match = _USER_MENTION.match(value)
    return match.group(1) if match else value


# --------------------------------------------------------------------------- the checker


class Approvers:
    """Decides who may answer a request, resolving names and groups through Slack."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = 60.0,
        member_ttl: float = 300.0,
        member_grace: float = 3600.0,
    ) -> None:
        """`ttl` is how long users, groups and a "not a member" answer are reused;
        `member_ttl` how long a "member" answer is; `member_grace` how old a "member" answer
        may be and still admit someone while Slack cannot be asked."""
        self._slack = slack
        self._clock = clock
        self._ttl = ttl
        self._member_ttl = member_ttl
        self._member_grace = member_grace
        self._directory: Directory | None = None
        self._members: dict[str, tuple[float, set[str]]] = {}
        self._people: dict[str, tuple[float, bool]] = {}  # user id -> (checked at, member?)
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the cache (e.g. on a subteam_members_changed event)."""
        self._directory = None
        self._members.clear()
        self._people.clear()

    async def may_answer(
        self,
        user_id: str,
        pending: PendingRequest,
        run: RunRecord,
        procedure: Procedure | None,
    ) -> Decision:
        """Allowed, or refused with a reason and whom to ask instead."""
        entries = approver_entries(pending, procedure)
        self_blocked = (
            pending.request.request_type in APPROVAL_TYPES
            and _user_id_of(run.started_by) == user_id
            and not self_approval_allowed(pending, procedure)
        )
        if not entries:
            if self_blocked:
                return Decision(False, SELF_REASON, "ask someone else")
            return await self._anyone_in_the_workspace(user_id)
        try:
            resolved = await self.resolve(entries)
        except DirectoryUnavailable:
            return Decision(False, UNAVAILABLE_REASON)
        if self_blocked:
            return Decision(False, SELF_REASON, resolved.ask(exclude=user_id))
        if resolved.contains(user_id):
            return Decision(True)
        return Decision(False, NOT_APPROVER_REASON, resolved.ask())

    async def resolve(self, entries: list[str]) -> Resolved:
        """User ids, names (with or without @) and group handles or ids, to ids."""
        resolved = Resolved()
        for raw in entries:
            await self._resolve_one(raw.strip(), resolved)
        if resolved.unresolved:
            logger.warning("approvers not found in Slack: %s", ", ".join(resolved.unresolved))
        return resolved

    async def _resolve_one(self, raw: str, resolved: Resolved) -> None:
        user = _USER_MENTION.match(raw)
        group = _GROUP_MENTION.match(raw)
        if user or _USER_ID.match(raw):
            resolved.add_user(user.group(1) if user else raw)
            return
        if group or _GROUP_ID.match(raw):
            group_id = group.group(1) if group else raw
            resolved.add_group(group_id, await self._group_members(group_id))
            return
        name = raw.lstrip("@").lower()
        directory = await self._directory_now()
        found = False
        if name in directory.groups_by_handle:
            group_id = directory.groups_by_handle[name]
            resolved.add_group(group_id, await self._group_members(group_id))
            found = True
        if name in directory.users_by_name:
            resolved.add_user(directory.users_by_name[name])
            found = True
        if not found:
            resolved.unresolved.append(raw)

    async def _anyone_in_the_workspace(self, user_id: str) -> Decision:
        try:
            member = await self.is_member(user_id)
        except DirectoryUnavailable:
            return Decision(False, UNAVAILABLE_REASON)
        return Decision(True) if member else Decision(False, NOT_MEMBER_REASON)

    async def is_member(self, user_id: str) -> bool:
        """Whether `user_id` is an active member of the workspace. Raises
        `DirectoryUnavailable` when Slack cannot say and no recent "member" answer is cached."""
        now = self._clock()
        cached = self._people.get(user_id)
        if cached is not None:
            checked_at, member = cached
            if now - checked_at < (self._member_ttl if member else self._ttl):
                return member
        try:
            response = await self._slack.users_info(user=user_id)
        except SlackApiError as exc:
            if _error(exc) in NOT_A_MEMBER:
                return self._remember(user_id, now, member=False, why=_error(exc))
            return self._recent_member(user_id, cached, exc)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._recent_member(user_id, cached, exc)
        user = response.get("user")
        if not isinstance(user, dict) or user.get("id") != user_id:
            return self._remember(user_id, now, member=False, why="not the user asked about")
        if user.get("deleted"):
            return self._remember(user_id, now, member=False, why="deactivated")
        return self._remember(user_id, now, member=True)

    def _remember(self, user_id: str, now: float, *, member: bool, why: str = "") -> bool:
        if not member:
            logger.warning("approvers: %s is not a member of the workspace (%s)", user_id, why)
        self._people.pop(user_id, None)  # re-inserted last: the oldest answer goes first
        self._people[user_id] = (now, member)
        if len(self._people) > MAX_PEOPLE:
            del self._people[next(iter(self._people))]
        return member

    def _recent_member(
        self, user_id: str, cached: tuple[float, bool] | None, exc: Exception
    ) -> bool:
        if cached is not None and cached[1] and self._clock() - cached[0] < self._member_grace:
            logger.warning(
                "approvers: users.info failed (%s); %s was a member", _describe(exc), user_id
            )
            return True
        logger.error("approvers: cannot look up user %s: %s", user_id, _describe(exc))
        raise DirectoryUnavailable from None

    # ------------------------------------------------------------------ the cache

    def _fresh(self, loaded_at: float) -> bool:
        return self._clock() - loaded_at < self._ttl

    async def _directory_now(self) -> Directory:
        """Cached users and groups; on failure a stale copy beats no answer."""
        if self._directory is not None and self._fresh(self._directory.loaded_at):
            return self._directory
        async with self._lock:  # one reload for a burst of clicks
            if self._directory is not None and self._fresh(self._directory.loaded_at):
                return self._directory
            try:
                self._directory = await self._load_directory()
            except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                if self._directory is None:
                    logger.error("approvers: cannot read users/groups: %s", _describe(exc))
                    raise DirectoryUnavailable from None
                logger.warning("approvers: using a stale directory (%s)", _describe(exc))
            return self._directory

    async def _load_directory(self) -> Directory:
        directory = Directory(loaded_at=self._clock())
        for member in await self._all_users():
            if member.get("deleted") or member.get("is_bot"):
                continue
            profile = member.get("profile") or {}
            for name in (member.get("name"), profile.get("display_name")):
                if name:
                    directory.users_by_name.setdefault(str(name).lower(), member["id"])
        response = await self._slack.usergroups_list()
        for group in response.get("usergroups") or []:
            directory.groups_by_handle[str(group["handle"]).lower()] = group["id"]
            directory.group_handles[group["id"]] = group["handle"]
        return directory

    async def _all_users(self) -> list[dict[str, Any]]:
        members: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            response = await self._slack.users_list(limit=200, cursor=cursor)
            members.extend(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    async def _group_members(self, group_id: str) -> set[str]:
        cached = self._members.get(group_id)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        try:
            response = await self._slack.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            if _error(exc) == "no_such_subteam":
                return set()
            return self._stale_members(group_id, exc)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._stale_members(group_id, exc)
        members = set(response.get("users") or [])
        self._members[group_id] = (self._clock(), members)
        return members

    def _stale_members(self, group_id: str, exc: Exception) -> set[str]:
        cached = self._members.get(group_id)
        if cached is None:
            logger.error("approvers: cannot read group %s: %s", group_id, _describe(exc))
            raise DirectoryUnavailable from None
        return cached[1]


def _error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return str(data.get("error")) if isinstance(data, dict) else ""


def _describe(exc: Exception) -> str:
    """A short cause for logs (SlackApiError's text carries the URL, never the token)."""
    return _error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
