"""Answering at the terminal through a real pseudo-terminal: prompts, re-prompts, Ctrl-C, Ctrl-D."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import COMMAND, DEPLOY, EXAMPLES, Cli, cli_env
from tests.cli.terminal import Terminal

Spawn = Callable[..., Terminal]


@pytest.fixture
def spawn(cli: Cli) -> Iterator[Spawn]:
    """Start `hitlbot ARGS --db <scratch db>` in a pseudo-terminal; killed at teardown."""
    started: list[Terminal] = []

    def start(*args: str | Path) -> Terminal:
        argv = [*COMMAND, *map(str, args), "--db", str(cli.db)]
        terminal = Terminal(argv, cwd=cli.tmp_path, env=cli_env(TERM="xterm"))
        started.append(terminal)
        return terminal

    yield start
    for terminal in started:
        terminal.kill()


def report(cli: Cli, run_id: str) -> dict:
    """The run as another process sees it in the database (resuming an ended run reports it)."""
    result = cli.resume(run_id, "--json")
    assert result.code in (0, 1, 3), result.stderr
    return result.json()


def run_id_of(terminal: Terminal) -> str:
    return terminal.text.split("Run ", 1)[1].split()[0]


def answer_review_and_ticket(terminal: Terminal) -> None:
    terminal.expect("Decision [1-3]:")
    terminal.send("1")
    terminal.expect("Feedback (optional):")
    terminal.send("")
    terminal.expect("Answer (e.g. CHG-12345):")
    terminal.send("CHG-1")


def test_a_deploy_approval_answered_at_the_terminal(cli: Cli, spawn: Spawn):
    terminal = spawn("run", DEPLOY, "-p", "version=2.15.0")
    shown = terminal.expect("Decision [1-3]:")
    assert "Review needed" in shown
    assert "## checkout-api 2.14.0" in shown  # the release notes, as the artifact
    assert "2. Request changes" in shown
    assert "times out after 4h" in shown
    terminal.send("4")
    terminal.expect("choose a number from 1 to 3")
    terminal.expect("Decision [1-3]:")
    terminal.send("1")
    terminal.expect("Feedback (optional):")
    terminal.send("Mention the Stripe SDK bump")
    terminal.expect("answer: Approve, feedback: 'Mention the Stripe SDK bump'")

    terminal.expect("Answer (e.g. CHG-12345):")
    terminal.send("")
    terminal.expect("an answer is required")
    terminal.expect("Answer (e.g. CHG-12345):")
    terminal.send("CHG-4242")

    shown = terminal.expect("Approve? [y/n]")
    assert "Go for deploy of checkout-api 2.15.0 to production?" in shown
    assert "CHG-4242" in shown
    terminal.send("maybe")
    terminal.expect("an approval takes yes or no")
    terminal.expect("Approve? [y/n]")
    terminal.send("y")
    terminal.expect("answer: approved")
    terminal.expect("[success] checkout-api 2.15.0 to production is rolling out")
    assert terminal.wait() == 0
    assert "COMPLETED" in terminal.text

    run = report(cli, run_id_of(terminal))
    assert run["result"] == {
        "deployed": True,
        "decision": "go",
        "change_ticket": "CHG-4242",
        "feedback": "Mention the Stripe SDK bump",
    }
    assert [r["response"]["timed_out"] for r in run["requests"]] == [False, False, False]


def test_ctrl_c_leaves_the_run_waiting_and_says_how_to_resume(cli: Cli, spawn: Spawn):
    terminal = spawn("run", DEPLOY)
    answer_review_and_ticket(terminal)
    terminal.expect("Approve? [y/n]")
    terminal.interrupt()
    assert terminal.wait() == 3
    run_id = run_id_of(terminal)
    assert "WAITING_FOR_HUMAN" in terminal.text
    assert f"Resume with: hitlbot resume {run_id} --db {cli.db}" in terminal.text
    assert "Traceback" not in terminal.text

    rest = cli.resume(run_id, "--answers", cli.answers([{"value": True}]), "--json")
    assert rest.code == 0, rest.stderr
    assert rest.json()["result"]["change_ticket"] == "CHG-1"


def test_ctrl_d_stops_and_a_later_terminal_session_resumes(cli: Cli, spawn: Spawn):
    first = spawn("run", DEPLOY, "-p", "environment=staging")
    first.expect("Decision [1-3]:")
    first.end_of_input()
    assert first.wait() == 3
    run_id = run_id_of(first)

    second = spawn("resume", run_id)
    second.expect(f"Resuming run {run_id}")
    second.expect("Decision [1-3]:")
    second.send("reject")
    second.expect("Feedback (optional):")
    second.send("Wrong version in the title")
    assert second.wait() == 0
    run = report(cli, run_id)
    assert run["result"] == {
        "deployed": False,
        "decision": "reject",
        "feedback": "Wrong version in the title",
    }


def test_batched_inputs_and_a_bounded_multi_select(cli: Cli, spawn: Spawn):
    terminal = spawn("run", EXAMPLES / "oncall_handover.tac")
    terminal.expect("Shift summary")
    terminal.expect("Answer:")
    terminal.send("Quiet shift")
    terminal.expect("How many times were you paged?")
    terminal.expect("Answer:")
    terminal.send("0")
    shown = terminal.expect("Choose [1-3]:")
    assert "3. red" in shown
    terminal.send("green")
    terminal.expect("(Enter to skip):")
    terminal.send("")
    terminal.expect("Answer [y/n] (Enter for no):")
    terminal.send("y")

    shown = terminal.expect("Choose one or more [1-5, comma-separated]:")
    assert "choose 1 to 3" in shown
    terminal.send("1,2,3,4")
    terminal.expect("choose at most 3 options")
    terminal.expect("Choose one or more")
    terminal.send("")
    terminal.expect("choose at least 1 option")
    terminal.expect("Choose one or more")
    terminal.send("2, ledger-sync")
    terminal.expect("Approve? [y/n]")
    terminal.send("no")
    assert terminal.wait() == 0

    run = report(cli, run_id_of(terminal))
    assert run["result"]["watch"] == ["payments-gateway", "ledger-sync"]
    assert run["result"]["accepted"] is False
    assert run["result"]["runbooks_updated"] is True
    assert run["state"] == {"on_call": "maya.lin"}
    batch = run["requests"][0]["response"]["value"]
    assert batch == {
        "summary": "Quiet shift",
        "pages": "0",
        "health": "green",
        "follow_ups": None,
        "runbooks_updated": True,
    }


def test_an_escalation_shows_its_severity_and_takes_a_note(cli: Cli, spawn: Spawn):
    terminal = spawn("run", EXAMPLES / "incident_escalation.tac", "-p", "severity=error")
    terminal.expect("ALERT ERROR (alertmanager)")
    terminal.expect("Choose [1-4]:")
    terminal.send("3")
    shown = terminal.expect("Resolution note (Enter to mark resolved):")
    assert "Escalation - severity ERROR" in shown
    assert "Take command." in shown
    terminal.send("Failed over to the secondary region")
    terminal.expect("answer: resolved, note: 'Failed over to the secondary region'")
    terminal.expect("Answer [not recorded]:")
    terminal.send("")  # Enter takes the default, as an answer (not a timeout)
    assert terminal.wait() == 0

    run = report(cli, run_id_of(terminal))
    assert run["result"]["customer_impact"] == "outage"
    assert run["result"]["resolution"] == "not recorded"
    escalation = run["requests"][1]["response"]
    assert escalation["value"]["note"] == "Failed over to the secondary region"
    assert run["requests"][2]["response"]["timed_out"] is False


def test_a_review_edit_takes_the_new_text(cli: Cli, spawn: Spawn):
    terminal = spawn("run", EXAMPLES / "content_review.yaml")
    shown = terminal.expect("Decision [1-4]:")
    assert "2. Edit and approve" in shown
    terminal.send("2")
    terminal.expect("Feedback (optional):")
    terminal.send("Shorter")
    terminal.expect("holding only '.'")
    terminal.send("Apple Pay is here.")
    terminal.send("Pay in one tap at checkout.")
    terminal.send(".")
    terminal.expect("Choose [1-3]:")
    terminal.send("Now")
    assert terminal.wait() == 0

    run = report(cli, run_id_of(terminal))
    assert run["result"]["status"] == "edited"
    assert run["result"]["text"] == "Apple Pay is here.\nPay in one tap at checkout."
    assert run["result"]["publish_at"] == "now"


def test_json_in_a_terminal_prompts_on_stderr_and_keeps_stdout_for_the_report(cli: Cli):
    out = cli.tmp_path / "report.json"
    command = shlex.join([*COMMAND, "run", str(DEPLOY), "--db", str(cli.db), "--json"])
    terminal = Terminal(
        ["/bin/sh", "-c", f"exec {command} > {shlex.quote(str(out))}"],
        cwd=cli.tmp_path,
        env=cli_env(TERM="xterm"),
    )
    try:
        answer_review_and_ticket(terminal)
        terminal.expect("Approve? [y/n]")
        terminal.send("n")
        assert terminal.wait() == 0
    finally:
        terminal.kill()
    report_json = json.loads(out.read_text())
    assert report_json["result"]["decision"] == "no_go"
    assert "Review needed" in terminal.text  # the story went to the terminal, via stderr


def test_no_input_never_prompts_even_in_a_terminal(cli: Cli, spawn: Spawn):
    terminal = spawn("run", DEPLOY, "--no-input")
    assert terminal.wait() == 3
    assert "Review needed" in terminal.text
    assert "Decision" not in terminal.text
    assert "--answers FILE.json" in terminal.text
