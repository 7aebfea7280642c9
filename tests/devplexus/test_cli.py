"""`python -m devplexus`: prints the dashboard URL and a client's environment, serves, and
stops cleanly on Ctrl-C; a bad seed is a one-line error, not a traceback."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]


async def test_cli_prints_the_environment_serves_and_stops_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devplexus",
        "--api-key",
        "da2-clitestkey",
        "--account-key",
        "acme",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: list[str] = []
    try:
        while not any("Ctrl-C" in line for line in lines):
            line = await asyncio.wait_for(process.stdout.readline(), 15)
            assert line, (lines, await process.stderr.read())
            lines.append(line.decode())
        env = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in lines
            if "export " in line
        )
        assert env["PLEXUS_API_KEY"] == "da2-clitestkey"
        assert env["PLEXUS_ACCOUNT_KEY"] == "acme"
        dashboard = next(
            line.split()[-1] for line in lines if line.startswith("devplexus dashboard:")
        )
        assert env["PLEXUS_API_URL"] == dashboard + "graphql"
        async with aiohttp.ClientSession() as session:
            query = 'query { listAccountByKey(key: "acme") { items { key } } }'
            async with session.post(
                env["PLEXUS_API_URL"],
                json={"query": query},
                headers={"x-api-key": env["PLEXUS_API_KEY"]},
            ) as response:
                body = await response.json()
                assert body == {"data": {"listAccountByKey": {"items": [{"key": "acme"}]}}}
            async with session.get(dashboard) as response:
                assert response.status == 200
                assert "devplexus" in await response.text()
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 10)
    stdout = (await process.stdout.read()).decode()
    stderr = (await process.stderr.read()).decode()
    assert code == 0, stderr
    assert "devplexus stopped." in stdout
    assert "Traceback" not in stderr


async def test_cli_refuses_a_bad_seed_with_one_clear_line(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("Procedure:\n  - name: Deploy\n")  # no accountId
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devplexus",
        "--seed",
        str(seed),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 1
    assert stderr.decode().strip() == (
        "devplexus: seed: Procedure #1: missing required attribute(s) ['accountId']"
    )
