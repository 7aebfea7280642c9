"""`python -m devplexus`: serve a local Plexus API; prints its URLs and a client's environment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from devplexus.config import DEFAULT_API_KEY, DevPlexusConfig
from devplexus.server import DevPlexus


def _faults(value: str) -> dict | list:
    """--faults takes JSON or a path to a JSON file."""
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON nor a JSON file: {exc}") from exc


def parse_args(argv: list[str] | None = None) -> DevPlexusConfig:
    parser = argparse.ArgumentParser(
        prog="python -m devplexus",
        description="A strict local stand-in for Plexus's GraphQL API, with a dashboard.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the x-api-key to accept")
    parser.add_argument(
        "--account-key", default="dev", help="PLEXUS_ACCOUNT_KEY (its Account always exists)"
    )
    parser.add_argument("--db", help="SQLite file to keep data in (default: in memory)")
    parser.add_argument("--seed", help="seed YAML (default: the packaged seed.yaml)")
    parser.add_argument("--faults", type=_faults, help="initial fault injection (JSON or file)")
    parser.add_argument(
        "--response-target", default="cloud", help="responseTarget of dashboard answers"
    )
    parser.add_argument(
        "--user-id", default="dev-user", help="createdByUserId of answers given on the page"
    )
    args = parser.parse_args(argv)
    return DevPlexusConfig(
        port=args.port,
        host=args.host,
        api_key=args.api_key,
        account_key=args.account_key,
        db_path=args.db,
        seed_path=args.seed,
        faults=args.faults,
        response_target=args.response_target,
        dashboard_user=args.user_id,
    )


async def serve(config: DevPlexusConfig) -> None:
    devplexus = DevPlexus(config)
    await devplexus.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    lines = [
        f"devplexus dashboard: {devplexus.base_url}/",
        f"GraphQL endpoint:    {devplexus.graphql_url}",
        f"Control API:         {devplexus.base_url}/_dev/api/",
        "Environment for a Plexus client:",
        *(f"  export {k}={v}" for k, v in devplexus.env.items()),
        "Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)
    try:
        await stop.wait()
    finally:
        await devplexus.stop()
        print("devplexus stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"devplexus: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
