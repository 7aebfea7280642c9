"""The four commands: `validate`, `run`, `resume` and `runs`.

Each returns the process exit status. Errors a person can fix are raised as `HitlbotError` and
turned into one line by `bot.cli.app`; here they only need a message that says what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from bot.cli.answer_sources import (
    AnswerSource,
    NoAnswers,
    ScriptedAnswers,
    load_answers,
)
from bot.cli.messages import error_line, note_line, one_line
from bot.cli.prompts import TerminalAnswers
from bot.cli.render import Transcript, make_console, runs_table
from bot.cli.report import run_report, run_summary
from bot.cli.session import SessionEnd, drive
from bot.cli.store import DEFAULT_DB, is_missing_file, open_store
from runtime.engine import Engine
from runtime.errors import HitlbotError, UnknownRunError
from runtime.lint import LintIssue
from runtime.models import RunRecord, RunStatus, utc_now
from runtime.pool import WorkerPool
from runtime.protocols import RunStore

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_WAITING = 3


class UsageError(HitlbotError):
    """A command line that does not make sense (a malformed --param, ...)."""


def exit_status(status: RunStatus) -> int:
    if status is RunStatus.COMPLETED:
        return EXIT_OK
    if status is RunStatus.WAITING_FOR_HUMAN:
        return EXIT_WAITING
    return EXIT_FAILED


def current_user() -> str | None:
    """Who is at the keyboard, recorded as the run's starter and the answers' responder."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return None


@contextlib.contextmanager
def worker() -> Iterator[WorkerPool]:
    """One worker process, started on first use: procedures are read and executed there, as
    the bot's are, so the limits hold whatever the file does and Ctrl-C is never stuck behind
    a long Lua instruction."""
    workers = WorkerPool(1)
    try:
        yield workers
    finally:
        workers.close()


# -- validate ----------------------------------------------------------------------------------


def finding_line(path: str, issue: LintIssue) -> str:
    """`FILE:LINE: error: message`, the shape editors and CI annotate from."""
    where = path if issue.line is None else f"{path}:{issue.line}"
    return f"{where}: {issue.severity}: {one_line(issue.message)}"


def validate_command(args: argparse.Namespace) -> int:
    errors = 0
    with worker() as workers:  # reading a `.tac` file runs its top level
        for path in args.files:
            issues = workers.lint(path)
            for issue in issues:
                print(finding_line(path, issue))
            errors += sum(1 for issue in issues if issue.severity == "error")
            if not issues:
                print(f"{path}: ok")
    return EXIT_FAILED if errors else EXIT_OK


# -- run and resume ----------------------------------------------------------------------------


@dataclass
class Channel:
    """How this command talks to people: where the story goes and where answers come from."""

    transcript: Transcript
    answers: AnswerSource
    scripted: ScriptedAnswers | None
    interactive: bool


def open_channel(args: argparse.Namespace, responder: str | None) -> Channel:
    """Answers from --answers, else from the terminal when stdin is one, else none.

    With --json, stdout holds only the report, so the story (and any prompts) go to stderr;
    without a person to read it there, it is left out altogether.
    """
    scripted = None
    if args.answers:
        scripted = ScriptedAnswers(load_answers(args.answers, default_responder=responder))
    interactive = scripted is None and not args.no_input and sys.stdin.isatty()
    console: Console = make_console(stderr=args.json)
    if args.json and not interactive:
        console.quiet = True
    answers: AnswerSource
    if scripted is not None:
        answers = scripted
    elif interactive:
        answers = TerminalAnswers(console, responder)
    else:
        answers = NoAnswers()
    return Channel(Transcript(console), answers, scripted, interactive)


def parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param takes KEY=VALUE, got {item!r}")
        if key in params:
            raise UsageError(f"--param {key} is given twice")
        params[key] = value
    return params


def run_command(args: argparse.Namespace) -> int:
    user = current_user()
    params = parse_params(args.param)
    channel = open_channel(args, user)  # reads and checks the answers file before anything runs
    with worker() as workers:
        procedure = workers.load(args.file)
        # Resume reloads the file from the run's source_path, maybe from another directory.
        path = os.path.abspath(procedure.source_path)
        procedure = procedure.model_copy(update={"source_path": path})
        with open_store(args.db) as store:
            engine = Engine(store, executor=workers)
            outcome = engine.start(procedure, params, started_by=user, params_from_strings=True)
            channel.transcript.started(outcome.run, procedure.name)
            end = drive(engine, outcome, channel.answers, channel.transcript)
            return conclude(store, end, args, channel)


def resume_command(args: argparse.Namespace) -> int:
    channel = open_channel(args, current_user())
    with open_store(args.db, must_exist=True) as store, worker() as workers:
        engine = Engine(store, executor=workers)
        try:
            run = engine.get_run(args.run_id)
        except UnknownRunError as exc:
            raise HitlbotError(f"{exc} in {args.db} (`hitlbot runs` lists the runs)") from None
        if run.status.is_final:
            note_line(f"run {run.run_id[:8]} has already ended ({run.status.value})")
            end = SessionEnd(engine.resume(run.run_id))
        else:
            channel.transcript.resuming(run)
            end = drive(engine, engine.resume(run.run_id), channel.answers, channel.transcript)
        return conclude(store, end, args, channel)


def resume_hint(run: RunRecord, args: argparse.Namespace, *, interactive: bool) -> str:
    command = f"hitlbot resume {run.run_id[:8]}"
    if args.db != DEFAULT_DB:
        command += f" --db {args.db}"
    return command if interactive else f"{command} --answers FILE.json"


def conclude(store: RunStore, end: SessionEnd, args: argparse.Namespace, channel: Channel) -> int:
    """Say how the run stands (report, status line, resume hint) and pick the exit status."""
    run = end.outcome.run
    hint = resume_hint(run, args, interactive=channel.interactive)
    if channel.scripted is not None and channel.scripted.unused and run.status.is_final:
        unused = channel.scripted.unused
        note_line(f"{unused} answer{'s' if unused != 1 else ''} in {args.answers} not used")
    transcript = channel.transcript
    if args.json:
        sys.stdout.write(json.dumps(run_report(store, run), indent=2, default=str) + "\n")
    elif run.status is RunStatus.COMPLETED:
        transcript.completed(run)
    elif run.status is RunStatus.WAITING_FOR_HUMAN:
        transcript.waiting(run, hint)
    if run.status is RunStatus.WAITING_FOR_HUMAN and args.json:
        note_line(f"run {run.run_id[:8]} is waiting for a human; resume with: {hint}")
    if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        reason = run.error or "no reason given"
        error_line(f"run {run.run_id[:8]} ({run.procedure_id}) {run.status.value}: {reason}")
    return exit_status(run.status)


# -- runs --------------------------------------------------------------------------------------


def runs_command(args: argparse.Namespace) -> int:
    if is_missing_file(args.db):
        rows: list[dict[str, Any]] = []
    else:
        with open_store(args.db) as store:
            status = RunStatus.WAITING_FOR_HUMAN if args.waiting else None
            runs = store.list_runs(limit=args.limit, status=status)
            rows = [run_summary(store, run) for run in runs]
    if args.json:
        sys.stdout.write(json.dumps({"runs": rows}, indent=2) + "\n")
        return EXIT_OK
    console = make_console()
    if not rows:
        what = "No runs waiting for a human" if args.waiting else "No runs yet"
        console.print(f"{what} in {args.db}. Start one with: hitlbot run FILE", soft_wrap=True)
        return EXIT_OK
    console.print(runs_table(rows, utc_now()))
    return EXIT_OK
