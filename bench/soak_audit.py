"""Judge what a soak left behind: the measures of bench/soak.py, from its final state.

The inputs are plain data gathered once the soak is over: the messages devslack holds
(`Message`), the bot's database records (`Records`), and what the soak's people did
(`Command`, `Click`). Each measure is one small function over them, so that what counts as
"lost", "doubled" or "shared" is written down in one place and can be read on its own.

Posts are told apart by what people see in them, not by the bot's bookkeeping: a run's
message and its result name the run (`run 1a2b3c4d`), a request's footer names the request
(`soak 1a2b3c4d:pos1`), and the procedure writes its number `n` into every request and into
its notification (`soak-7 halfway`). Where the bot recorded a post in its database is used
only to find two runs pointing at one message.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runtime.models import PendingRequest, RunEvent, RunRecord, RunStatus

PROCEDURE_ID = "soak"
#: Two approvals and a notification between them; `n` in every message tells runs apart.
PROCEDURE = """\
name: Soak two requests
version: 1.0.0
class: Tactus
description: Two approvals with a notification between them (bench/soak.py).
params:
  n: {type: integer, default: 0}
code: |
  local first = Human.approve{message = "soak-" .. params.n .. " first approval?"}
  Human.notify{message = "soak-" .. params.n .. " halfway"}
  local second = Human.approve{message = "soak-" .. params.n .. " second approval?"}
  return {first = first, second = second}
"""
#: What the procedure asks, in order, and the button bob clicks on each: a wrong result or
#: answer shows an answer applied where nobody clicked it.
STAGES = ("first", "second")
CLICKED = {"first": "Approve", "second": "Reject"}
VALUES = {"Approve": True, "Reject": False}
EXPECTED_RESULT = {stage: VALUES[CLICKED[stage]] for stage in STAGES}
#: The user who clicks (alice starts the runs; a starter may not approve their own run).
RESPONDER = "U0BOB0001"

RUN_REF = re.compile(r"run `([0-9a-f]{8})`")
FINISHED = re.compile(r"run `([0-9a-f]{8})` · Finished")
REQUEST_REF = re.compile(r"`([0-9a-f]{8}:pos\d+)`")
REQUEST_TEXT = re.compile(r"soak-(\d+) (first|second) approval")
NOTIFY_TEXT = re.compile(r"soak-(\d+) halfway")
#: Buttons that do not answer a request.
NOT_ANSWERS = ("hitl:view_full", "hitl:details", "hitl:cancel_run", "hitl:view_result")
#: devslack verdicts for a delivery the bot acknowledged.
ACKED = ("ok", "late")
#: The verdict of a click devslack did not send: its button was gone.
NOT_SENT = "gone"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Message:
    """A message as devslack holds it at the end."""

    channel: str
    ts: str
    parent: str | None  # the thread's parent ts; None at the top of the channel
    text: str  # the fallback text and every text in the blocks
    buttons: bool  # offers an element that answers a request

    @classmethod
    def from_control(cls, channel: str, raw: dict[str, Any]) -> Message:
        """From `GET /_dev/api/messages` (a thread parent lists itself as its own parent)."""
        parent = raw.get("thread_ts")
        blocks = raw.get("blocks") or []
        return cls(
            channel=channel,
            ts=str(raw["ts"]),
            parent=None if parent in (None, raw["ts"]) else str(parent),
            text=str(raw.get("text") or "") + "\n" + json.dumps(blocks, ensure_ascii=False),
            buttons=has_answer_buttons(blocks),
        )


def has_answer_buttons(blocks: list[dict[str, Any]]) -> bool:
    for block in blocks:
        for element in block.get("elements") or []:
            action = str(element.get("action_id") or "")
            if action.startswith("hitl:") and not action.startswith(NOT_ANSWERS):
                return True
    return False


@dataclass(frozen=True)
class Command:
    """One `/procedure run soak n=<n>` as people typed it (retries included)."""

    n: int
    verdict: str  # devslack's delivery verdict


@dataclass(frozen=True)
class Click:
    """One click of bob's on a request's button (retries and double clicks included)."""

    request_id: str
    label: str  # Approve | Reject
    verdict: str  # devslack's, or NOT_SENT when the button was no longer there


@dataclass
class Records:
    """The bot's database at the end."""

    runs: list[RunRecord]
    requests: list[PendingRequest]
    events: dict[str, list[RunEvent]]  # by run id
    thread_refs: dict[str, tuple[str, str]]  # run id -> (channel, ts) of its run message


# --------------------------------------------------------------------------- posts


@dataclass(frozen=True)
class Post:
    """A message the bot posted for a run, as people can tell from its content."""

    kind: str  # run | request | notification | result
    message: Message
    run_id: str | None  # None when no run of the database matches
    request_id: str | None = None


class Index:
    """Runs by id prefix and by `n`, requests by id: how posts are tied to runs."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.by_prefix = {run.run_id[:8]: run for run in records.runs}
        self.by_n: dict[int, list[RunRecord]] = defaultdict(list)
        for run in records.runs:
            n = run.params.get("n")
            if isinstance(n, int):
                self.by_n[n].append(run)
        self.requests = {request.request_id: request for request in records.requests}

    def prefix(self, prefix: str) -> str | None:
        run = self.by_prefix.get(prefix)
        return run.run_id if run else None

    def n(self, n: int) -> str | None:
        """The run numbered `n` (the first one, should a command have made two)."""
        runs = self.by_n.get(n)
        return runs[0].run_id if runs else None


def classify(message: Message, index: Index) -> Post | None:
    """What a message is, and whose; None for anything that is not a run's post."""
    text = message.text
    finished = FINISHED.search(text)
    if finished:
        return Post("result", message, index.prefix(finished.group(1)))
    request = REQUEST_REF.search(text)
    if request and REQUEST_TEXT.search(text):
        request_id = f"{PROCEDURE_ID}:{request.group(1)}"
        return Post("request", message, index.prefix(request.group(1)[:8]), request_id)
    notify = NOTIFY_TEXT.search(text)
    if notify:
        return Post("notification", message, index.n(int(notify.group(1))))
    run = RUN_REF.search(text)
    if run and message.parent is None:
        return Post("run", message, index.prefix(run.group(1)))
    return None


def stage_of(request: PendingRequest) -> str | None:
    found = REQUEST_TEXT.search(request.request.message)
    return found.group(2) if found else None


# --------------------------------------------------------------------------- the measures


@dataclass
class Findings:
    """Each measure's offenders (ids or short descriptions), for the table and the raw list."""

    runs_planned: int
    runs_completed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    commands_without_run: list[int] = field(default_factory=list)
    extra_runs: list[int] = field(default_factory=list)  # n with more than one run
    answers_lost: list[str] = field(default_factory=list)
    answers_doubled: list[str] = field(default_factory=list)
    posts_doubled: list[str] = field(default_factory=list)
    runs_sharing: list[str] = field(default_factory=list)
    max_runs_per_thread: int = 0
    posts_missing: list[str] = field(default_factory=list)
    stale_buttons: list[str] = field(default_factory=list)
    unclassified: int = 0


def audit(
    runs_planned: int,
    messages: list[Message],
    records: Records,
    commands: list[Command],
    clicks: list[Click],
) -> Findings:
    index = Index(records)
    posts: list[Post] = []
    findings = Findings(runs_planned)
    for message in messages:
        post = classify(message, index)
        if post is None:
            findings.unclassified += 1
        else:
            posts.append(post)
    count_runs(findings, index, commands)
    findings.answers_lost = list(answers_lost(index, clicks))
    findings.answers_doubled = list(answers_doubled(index, clicks))
    findings.posts_doubled = list(posts_doubled(posts))
    findings.runs_sharing, findings.max_runs_per_thread = runs_sharing(posts, records)
    findings.posts_missing = list(posts_missing(posts, index))
    findings.stale_buttons = list(stale_buttons(posts, index))
    return findings


def count_runs(findings: Findings, index: Index, commands: list[Command]) -> None:
    """1. Runs completed, out of those planned; and commands acked that made no run."""
    for run in index.records.runs:
        findings.statuses[run.status.value] += 1
    findings.runs_completed = sum(
        any(run.status is RunStatus.COMPLETED for run in runs) for runs in index.by_n.values()
    )
    findings.extra_runs = sorted(n for n, runs in index.by_n.items() if len(runs) > 1)
    acked = {command.n for command in commands if command.verdict in ACKED}
    findings.commands_without_run = sorted(n for n in acked if n not in index.by_n)


def answers_lost(index: Index, clicks: list[Click]) -> Iterator[str]:
    """2. A click the bot acknowledged whose answer is not recorded, or a run left waiting on
    a request someone answered."""
    acked = {click.request_id for click in clicks if click.verdict in ACKED}
    for request_id in sorted(acked):
        request = index.requests.get(request_id)
        if request is None:
            yield f"{request_id}: clicked, but no such request"
        elif request.response is None and not request.cancelled:
            yield f"{request_id}: click acknowledged, answer not recorded"
    for run in index.records.runs:
        if run.status is not RunStatus.WAITING_FOR_HUMAN or not run.waiting_on_message_id:
            continue
        request = index.requests.get(run.waiting_on_message_id)
        if request is not None and request.response is not None:
            yield f"{request.request_id}: answered, but its run still waits on it"


def answers_doubled(index: Index, clicks: list[Click]) -> Iterator[str]:
    """3. An answer nobody gave: a request answered without a click on it, with another value
    or responder than the click's; a stage asked twice; a result that is not the clicks'."""
    clicked: dict[str, set[str]] = defaultdict(set)
    for click in clicks:
        if click.verdict != NOT_SENT:
            clicked[click.request_id].add(click.label)
    asked: Counter[tuple[str, str | None]] = Counter()
    for request in index.records.requests:
        asked[(request.run_id, stage_of(request))] += 1
        response = request.response
        if response is None or response.timed_out:
            continue
        labels = clicked.get(request.request_id)
        if not labels:
            yield f"{request.request_id}: answered, but nobody clicked it"
        elif response.value not in {VALUES[label] for label in labels}:
            yield f"{request.request_id}: recorded {response.value!r}, clicked {sorted(labels)}"
        elif response.responder != RESPONDER:
            yield f"{request.request_id}: recorded as answered by {response.responder}"
    for (run_id, stage), count in sorted(asked.items(), key=str):
        if count > 1:
            yield f"run {run_id[:8]}: its {stage} request asked {count} times"
    for run in index.records.runs:
        if run.status is RunStatus.COMPLETED and run.result != EXPECTED_RESULT:
            yield f"run {run.run_id[:8]}: result {run.result!r}, clicks gave {EXPECTED_RESULT!r}"


def post_key(post: Post) -> tuple[str, str]:
    """What one post stands for: (kind, request id) for a request, (kind, run id) for a run's
    message, notification or result."""
    if post.kind == "request":
        return (post.kind, str(post.request_id))
    return (post.kind, str(post.run_id))


def describe(kind: str, who: str) -> str:
    if kind == "request":
        return f"request {who}"
    return f"{'message' if kind == 'run' else kind} of run {who[:8]}"


def posts_doubled(posts: list[Post]) -> Iterator[str]:
    """4. The same run message, request, notification or result posted more than once."""
    counts = Counter(post_key(post) for post in posts if post.run_id is not None)
    for (kind, who), count in sorted(counts.items()):
        if count > 1:
            yield f"{describe(kind, who)} posted {count} times"


def runs_sharing(posts: list[Post], records: Records) -> tuple[list[str], int]:
    """5. Runs whose thread holds another run's posts, or that point at another run's message;
    and the most runs found in one thread."""
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)  # thread -> runs in it
    for post in posts:
        if post.run_id is None:
            continue
        thread = post.message.parent if post.kind != "run" else post.message.ts
        if thread is not None:
            owners[(post.message.channel, thread)].add(post.run_id)
    by_ref: dict[tuple[str, str], set[str]] = defaultdict(set)
    for run_id, ref in records.thread_refs.items():
        by_ref[ref].add(run_id)
    sharing: set[str] = set()
    for runs in [*owners.values(), *by_ref.values()]:
        if len(runs) > 1:
            sharing |= runs
    most = max((len(runs) for runs in owners.values()), default=0)
    return sorted(sharing), most


def expected_posts(index: Index) -> Iterator[tuple[str, str]]:
    """The `post_key` of every post the runs' records call for."""
    for request in index.records.requests:
        yield ("request", request.request_id)
    for run in index.records.runs:
        yield ("run", run.run_id)
        for event in index.records.events.get(run.run_id, []):
            if event.kind == "notify":
                yield ("notification", run.run_id)
        if run.status in (RunStatus.COMPLETED, RunStatus.FAILED):
            yield ("result", run.run_id)


def posts_missing(posts: list[Post], index: Index) -> Iterator[str]:
    """7. A post a run calls for that is nowhere in its own thread (never posted, or posted
    at the top of the channel or in another run's thread)."""
    own_threads: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for post in posts:
        if post.kind == "run" and post.run_id is not None:
            own_threads[post.run_id].add((post.message.channel, post.message.ts))
    placed: set[tuple[str, str]] = set()
    anywhere: set[tuple[str, str]] = set()
    for post in posts:
        anywhere.add(post_key(post))
        thread = (post.message.channel, post.message.parent or post.message.ts)
        if post.kind == "run" or thread in own_threads.get(str(post.run_id), ()):
            placed.add(post_key(post))
    for key in expected_posts(index):
        if key not in placed:
            where = "posted outside its run's thread" if key in anywhere else "never posted"
            yield f"{describe(*key)}: {where}"


def stale_buttons(posts: list[Post], index: Index) -> Iterator[str]:
    """6. A request answered (or withdrawn) whose message still offers its buttons."""
    seen: set[str] = set()
    for post in posts:
        if post.kind != "request" or not post.message.buttons or post.request_id in seen:
            continue
        request = index.requests.get(str(post.request_id))
        if request is not None and (request.response is not None or request.cancelled):
            seen.add(str(post.request_id))
            yield f"{post.request_id}: answered, still showing its buttons"


# --------------------------------------------------------------------------- the table


def goal_rows(findings: Findings) -> Iterable[tuple[str, str, str, bool]]:
    """(measure, value, goal, met) for each measure with a goal."""
    planned = findings.runs_planned
    yield (
        "runs completed",
        f"{findings.runs_completed} / {planned}",
        f"{planned} / {planned}",
        findings.runs_completed == planned,
    )
    for name, offenders in (
        ("answers lost", findings.answers_lost),
        ("answers doubled", findings.answers_doubled),
        ("posts doubled", findings.posts_doubled),
        ("runs sharing a message", findings.runs_sharing),
        ("answered requests still showing buttons", findings.stale_buttons),
        ("posts missing or outside their run's thread", findings.posts_missing),
    ):
        yield (name, str(len(offenders)), "0", not offenders)
