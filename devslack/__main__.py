"""`python -m devslack`: run devslack until Ctrl-C, printing what an app needs to use it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from devslack.config import SLACK_EVENT_RETRY_DELAYS, DevSlackConfig
from devslack.server import DevSlack


def _faults(value: str) -> dict | list:
    """--faults takes JSON or a path to a JSON file."""
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--faults: not JSON nor a JSON file: {exc}") from exc


def _delays(value: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("--event-retry-delays: e.g. 1,60,300") from exc


def parse_args(argv: list[str] | None = None) -> DevSlackConfig:
    parser = argparse.ArgumentParser(
        prog="python -m devslack", description="A strict local stand-in for Slack."
    )
    parser.add_argument(
        "--app-url",
        help="the app's request URL (HTTP mode), e.g. http://127.0.0.1:3000/slack/events",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: a free one)"
    )
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--seed", help="workspace seed YAML (default: the packaged seed.yaml)")
    parser.add_argument("--signing-secret", help="override the seed's signing secret")
    parser.add_argument("--bot-token", help="override the seed's bot token (xoxb-...)")
    parser.add_argument("--socket-mode", action="store_true", help="deliver over Socket Mode")
    parser.add_argument("--faults", type=_faults, help="initial fault injection (JSON or file)")
    parser.add_argument(
        "--event-retry-delays",
        type=_delays,
        default=SLACK_EVENT_RETRY_DELAYS,
        help="seconds before event retries 1,2,3 (default: 1,60,300 like Slack)",
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="turn Web API rate limits off"
    )
    args = parser.parse_args(argv)
    if not args.app_url and not args.socket_mode:
        parser.error("give --app-url URL (HTTP mode) or --socket-mode")
    return DevSlackConfig(
        app_url=args.app_url,
        port=args.port,
        host=args.host,
        seed_path=args.seed,
        signing_secret=args.signing_secret,
        bot_token=args.bot_token,
        socket_mode=args.socket_mode,
        faults=args.faults,
        event_retry_delays=args.event_retry_delays,
        rate_limits=not args.no_rate_limits,
    )


async def serve(config: DevSlackConfig) -> None:
    devslack = DevSlack(config)
    await devslack.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    mode = (
        "Socket Mode" if config.socket_mode or not config.app_url else f"HTTP -> {config.app_url}"
    )
    lines = [
        f"devslack UI:   {devslack.base_url}/",
        f"Deliveries:    {mode}",
        "Environment for your app:",
        *(f"  export {k}={v}" for k, v in devslack.env.items()),
        "(slack_sdk/Bolt: pass base_url=SLACK_API_URL to the WebClient.) Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)
    try:
        await stop.wait()
    finally:
        await devslack.stop()
        print("devslack stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"devslack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
