"""`python -m devslack`: prints the UI URL and the app's environment; Ctrl-C exits cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]


async def test_cli_prints_environment_and_stops_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devslack",
        "--app-url",
        "http://127.0.0.1:9/slack/events",
        "--signing-secret",
        "s3cr3t",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: list[str] = []
    try:
        while not any("SLACK_API_URL" in line for line in lines):
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert line, (lines, await process.stderr.read())
            lines.append(line.decode())
        env = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in lines
            if "export " in line
        )
        assert env["SLACK_SIGNING_SECRET"] == "s3cr3t"
        assert env["SLACK_BOT_TOKEN"].startswith("xoxb-")
        assert env["SLACK_APP_TOKEN"].startswith("xapp-")
        ui = next(line.split()[-1] for line in lines if line.startswith("devslack UI:"))
        assert env["SLACK_API_URL"] == ui + "api/"
        async with aiohttp.ClientSession() as session:
            async with session.post(
                env["SLACK_API_URL"] + "auth.test", data={"token": env["SLACK_BOT_TOKEN"]}
            ) as response:
                assert (await response.json())["ok"] is True
            async with session.get(ui) as response:
                assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 10)
    stderr = (await process.stderr.read()).decode()
    assert code == 0, stderr
    assert "Traceback" not in stderr


async def test_cli_requires_an_app_url_or_socket_mode() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devslack",
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 2 and b"--app-url" in stderr
