"""`hitlbot run` and `hitlbot resume` across separate processes sharing one SQLite file."""

from __future__ import annotations

from tests.cli.helpers import (
    APPROVE_NOTES,
    DEPLOY,
    Cli,
    assert_one_error_line,
    cli_env,
    run_cli,
)


def test_a_run_suspends_and_a_later_process_resumes_it(cli: Cli):
    first = cli.run(DEPLOY, "--answers", cli.answers([APPROVE_NOTES], "part1.json"), "--json")
    assert first.code == 3
    waiting = first.json()
    assert waiting["status"] == "WAITING_FOR_HUMAN"
    assert [r["response"] is not None for r in waiting["requests"]] == [True, False]
    short_id = waiting["run_id"][:8]
    assert f"hitlbot resume {short_id}" in first.stderr

    rest = cli.answers([{"value": "CHG-20931"}, {"value": "yes"}], "part2.json")
    second = cli.resume(short_id, "--answers", rest, "--json")
    assert second.code == 0, second.stderr
    done = second.json()
    assert done["run_id"] == waiting["run_id"]
    assert done["status"] == "COMPLETED"
    assert done["result"] == {
        "deployed": True,
        "decision": "go",
        "change_ticket": "CHG-20931",
        "feedback": "LGTM",
    }
    assert done["state"] == {"deployed_version": "2.14.0"}
    assert [r["request_type"] for r in done["requests"]] == ["review", "input", "approval"]


def test_each_resume_takes_the_answers_it_is_given_one_request_at_a_time(cli: Cli):
    first = cli.run(DEPLOY, "-p", "environment=staging", "--json")
    assert first.code == 3
    run_id = first.json()["run_id"]
    second = cli.resume(run_id[:6], "--answers", cli.answers([APPROVE_NOTES], "a.json"), "--json")
    assert second.code == 3
    assert second.json()["requests"][-1]["request_type"] == "approval"  # staging: no ticket
    third = cli.resume(run_id, "--answers", cli.answers([{"value": False}], "b.json"), "--json")
    assert third.code == 0
    assert third.json()["result"]["decision"] == "no_go"
    assert third.json()["result"]["deployed"] is False


def test_without_a_terminal_or_answers_the_run_waits_and_says_how_to_resume(cli: Cli):
    result = cli.run(DEPLOY)
    assert result.code == 3
    assert "Are these release notes accurate" in result.stdout
    assert "WAITING_FOR_HUMAN" in result.stdout
    resume_line = next(line for line in result.stdout.splitlines() if "Resume with" in line)
    assert "hitlbot resume" in resume_line
    assert f"--db {cli.db}" in resume_line
    assert "--answers FILE.json" in resume_line
    assert result.stderr == ""


def test_answers_running_out_leave_the_run_waiting_in_the_database(cli: Cli):
    result = cli.run(DEPLOY, "--answers", cli.answers([APPROVE_NOTES]))
    assert result.code == 3
    assert "answer: Approve" in result.stdout
    listing = cli("runs", "--db", cli.db, "--json").json()["runs"]
    assert [run["status"] for run in listing] == ["WAITING_FOR_HUMAN"]
    assert listing[0]["waiting_on"]["request_type"] == "input"


def test_a_timeout_answer_applies_the_default_and_is_marked_timed_out(cli: Cli):
    answers = cli.answers([APPROVE_NOTES, {"value": "CHG-1"}, {"timeout": True}])
    result = cli.run(DEPLOY, "--answers", answers, "--json")
    assert result.code == 0
    report = result.json()
    approval = report["requests"][-1]
    assert approval["default_value"] is False
    assert approval["timeout_seconds"] == 1800
    assert approval["response"]["value"] is False
    assert approval["response"]["timed_out"] is True
    assert report["requests"][0]["response"]["timed_out"] is False
    assert report["result"]["decision"] == "timed_out"


def test_the_human_readable_transcript_shows_notifications_requests_and_answers(cli: Cli):
    answers = cli.answers([APPROVE_NOTES, {"value": "CHG-1"}, {"timeout": True}])
    result = cli.run(DEPLOY, "--answers", answers)
    assert result.code == 0
    out = result.stdout
    assert "[info] Deploy requested: checkout-api 2.14.0 to production" in out
    assert "Go for deploy of checkout-api 2.14.0 to production?" in out
    assert "answer: 'CHG-1'" in out
    assert "timed out: the default applies: rejected" in out
    assert "[warning] Deploy of checkout-api 2.14.0 to production cancelled" in out
    run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("Run "))
    assert f"Run {run_id} COMPLETED" in out
    assert '"decision": "timed_out"' in out


def test_answers_can_be_read_from_stdin(cli: Cli):
    answers = '[{"value": "reject"}]'
    result = cli.run(DEPLOY, "--answers", "-", "--json", stdin=answers)
    assert result.code == 0
    assert result.json()["result"] == {"deployed": False, "decision": "reject", "feedback": ""}


def test_resuming_a_finished_run_reports_it_again(cli: Cli):
    done = cli.run(DEPLOY, "--answers", cli.answers([{"value": "reject"}]), "--json")
    run_id = done.json()["run_id"]
    again = cli.resume(run_id, "--json")
    assert again.code == 0
    assert again.json() == done.json()
    assert "has already ended (COMPLETED)" in again.stderr


def test_unused_answers_are_pointed_out(cli: Cli):
    answers = cli.answers([{"value": "reject"}, {"value": True}])
    result = cli.run(DEPLOY, "--answers", answers)
    assert result.code == 0
    assert result.stderr_lines == [f"hitlbot: 1 answer in {answers} not used"]


def test_a_run_started_from_another_directory_resumes_from_anywhere(cli: Cli, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = cli.write("approve.yaml", APPROVE_ONLY)
    first = cli("run", relative.name, "--db", cli.db, "--json")
    assert first.code == 3
    run_id = first.json()["run_id"]
    answers = cli.answers([{"value": True}])
    args = ("resume", run_id, "--db", cli.db, "--answers", answers, "--json")
    second = run_cli(*args, cwd=elsewhere, env=cli_env())
    assert second.code == 0, second.stderr
    assert second.json()["result"] == {"approved": True}


def test_an_answer_that_does_not_fit_stops_with_one_line_and_the_run_keeps_waiting(cli: Cli):
    result = cli.run(DEPLOY, "--answers", cli.answers([{"value": "maybe"}]))
    line = assert_one_error_line(result, "answers.json item 1", "unknown review decision 'maybe'")
    assert "is still waiting" in line
    listing = cli("runs", "--db", cli.db, "--json").json()["runs"]
    assert listing[0]["status"] == "WAITING_FOR_HUMAN"
    fixed = cli.resume(listing[0]["run_id"], "--answers", cli.answers([{"value": "reject"}]))
    assert fixed.code == 0


APPROVE_ONLY = """\
name: Approve only
version: 1
class: Tactus
code: |
  local ok = Human.approve{message = "Proceed?"}
  return {approved = ok}
"""
