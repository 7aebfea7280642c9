"""The `hitlbot` entry point: arguments, dispatch, and the one place errors become exit codes.

Whatever goes wrong, a person sees one line on stderr (`hitlbot: error: ...`), never a traceback:
they may be a procedure author who has never seen our code. `HITLBOT_DEBUG=1` adds the traceback
for whoever has to fix an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from importlib import metadata
from typing import NoReturn

from bot.cli import serving
from bot.cli.messages import error_line, one_line
from bot.cli.store import DEFAULT_DB
from runtime.errors import HitlbotError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
MAX_DETAIL = 300  # an unexpected error's own text can run to pages (pydantic, SQL)

DESCRIPTION = """\
Run human-in-the-loop Lua procedures (Tactus/Plexus style) from the terminal.
Runs are kept in a SQLite database, so a run waiting for a person can be resumed later,
from another terminal or by the Slack bot."""

EPILOG = """\
exit status: 0 completed, 1 failed or invalid input, 3 waiting for a human.
Set HITLBOT_DEBUG=1 to see the traceback of an unexpected error."""

ANSWERS_HELP = """\
answer requests in order from a JSON list; each item is {"value": ANSWER} or
{"timeout": true} (apply the request's default as a timeout); "-" reads stdin"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and the exit status of invalid input."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"hitlbot: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_FAILED)


def _add_answering(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", metavar="FILE.json", help=ANSWERS_HELP)
    parser.add_argument(
        "--no-input",
        action="store_true",
        help="never prompt, even in a terminal: leave requests waiting for someone else",
    )
    _add_db(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object describing the run on stdout (diagnostics go to stderr)",
    )


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=DEFAULT_DB,
        help="SQLite file (or SQLAlchemy URL) holding the runs (default: %(default)s)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="hitlbot",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hitlbot {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    validate = commands.add_parser(
        "validate",
        help="check procedure files and report problems with their line numbers",
        description="Load and lint procedure files. Prints FILE:LINE: error|warning: message "
        "for each finding; exits 1 if any file has an error (warnings are allowed).",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a .yaml, .tac or .lua file")

    run = commands.add_parser(
        "run",
        help="start a procedure and answer its requests",
        description="Start a run of a procedure file. Requests are answered from --answers,\n"
        "else asked at the terminal, else left waiting (exit 3) for `hitlbot resume`.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("file", metavar="FILE", help="the procedure (.yaml, .tac or .lua)")
    run.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter, converted to its declared type (repeat for several)",
    )
    _add_answering(run)

    resume = commands.add_parser(
        "resume",
        help="continue a run that is waiting for a human",
        description="Continue a waiting run: answer what it waits on (same rules as `run`)\n"
        "and go on from there.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    resume.add_argument("run_id", metavar="RUN_ID", help="the run id or a unique prefix of it")
    _add_answering(resume)

    runs = commands.add_parser(
        "runs",
        help="list runs, most recently updated first",
        description="List the runs in the database, most recently updated first.",
    )
    _add_db(runs)
    runs.add_argument("--waiting", action="store_true", help="only runs waiting for a human")
    runs.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    runs.add_argument("--json", action="store_true", help='print {"runs": [...]} as JSON')
    serving.add_parsers(commands)
    return parser


def _version() -> str:
    try:
        return metadata.version("hitlbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    # Imported here so `hitlbot --help` and argument errors answer without loading the runtime.
    from bot.cli import commands

    return {
        "validate": commands.validate_command,
        "run": commands.run_command,
        "resume": commands.resume_command,
        "runs": commands.runs_command,
        "serve": serving.serve_command,
        "socket": serving.socket_command,
        "dev": serving.dev_command,
    }[name]


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status; never raises, never prints a traceback."""
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            return _fail(
                "a command is required: validate, run, resume, runs, serve, socket or dev "
                "(see hitlbot --help)"
            )
        return _command(args.command)(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    except HitlbotError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        _debug()
        sys.stderr.write("\nhitlbot: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`hitlbot runs | head`): nothing left to tell anyone.
        _silence_stdout()
        return EXIT_FAILED
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{name}{exc.strerror or exc}")
    except Exception as exc:  # the promise: one line, whatever happened
        hint = "" if _debugging() else " (set HITLBOT_DEBUG=1 for the traceback)"
        detail = one_line(str(exc))
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 3] + "..."
        return _fail(f"unexpected {type(exc).__name__}: {detail}{hint}")


def _fail(message: str) -> int:
    _debug()
    error_line(message)
    return EXIT_FAILED


def _debugging() -> bool:
    return os.environ.get("HITLBOT_DEBUG", "") not in ("", "0")


def _debug() -> None:
    if _debugging() and sys.exc_info()[0] is not None:
        traceback.print_exc(file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
