"""`--json`: exactly one JSON object on stdout, with the documented keys; diagnostics on stderr."""

from __future__ import annotations

from datetime import datetime

from tests.cli.helpers import APPROVE_NOTES, DEPLOY, Cli

REPORT_KEYS = {
    "run_id",
    "procedure_id",
    "status",
    "result",
    "error",
    "requests",
    "notifications",
    "state",
}
REQUEST_KEYS = {
    "request_id",
    "request_type",
    "message",
    "options",
    "timeout_seconds",
    "default_value",
    "response",
}

NOISY = """\
name: Noisy
version: 1
class: Tactus
code: |
  print("print goes to the run log, not to stdout")
  Log.warn("a warning")
  System.alert{message = "an alert", level = "warning"}
  Human.notify{message = "first", level = "info"}
  State.set("count", 1)
  local name = Human.input{message = "Name?", default = "anon", timeout = 60}
  Human.notify{message = "hello " .. name, level = "success"}
  return {greeting = "hello " .. name}
"""

FAILING = """\
name: Failing
version: 1
class: Tactus
code: |
  Human.notify{message = "about to fail"}
  local ok = Human.approve{message = "Fail now?"}
  error("the deploy target is gone")
"""


def test_the_report_has_exactly_the_documented_shape(cli: Cli):
    answers = cli.answers([APPROVE_NOTES, {"value": "CHG-1"}, {"value": True}])
    result = cli.run(DEPLOY, "--answers", answers, "--json")
    assert result.code == 0
    report = result.json()
    assert set(report) == REPORT_KEYS
    assert report["procedure_id"] == "deploy_approval"
    assert report["error"] is None
    assert len(report["run_id"]) == 32
    for request in report["requests"]:
        assert set(request) == REQUEST_KEYS
        assert set(request["response"]) == {"value", "timed_out", "responded_at"}
        datetime.fromisoformat(request["response"]["responded_at"])
    review, ticket, approval = report["requests"]
    assert review["request_id"] == f"deploy_approval:{report['run_id'][:8]}:pos0"
    assert [o["value"] for o in review["options"]] == ["approve", "request_changes", "reject"]
    assert review["response"]["value"]["decision"] == "approve"
    assert ticket["options"] is None
    assert ticket["response"]["value"] == "CHG-1"
    assert approval["response"] == {**approval["response"], "value": True, "timed_out": False}
    assert [n["message"] for n in report["notifications"]] == [
        "Deploy requested: checkout-api 2.14.0 to production",
        "checkout-api 2.14.0 to production is rolling out",
    ]
    assert [n["level"] for n in report["notifications"]] == ["info", "success"]


def test_stdout_holds_only_the_json_whatever_the_procedure_prints(cli: Cli):
    procedure = cli.write("noisy.yaml", NOISY)
    result = cli.run(procedure, "--answers", cli.answers([{"value": "Ada"}]), "--json")
    assert result.code == 0
    report = result.json()
    assert report["result"] == {"greeting": "hello Ada"}
    assert report["state"] == {"count": 1}
    assert [n["message"] for n in report["notifications"]] == ["first", "hello Ada"]
    assert result.stderr == ""


def test_a_waiting_run_reports_the_open_request_with_a_null_response(cli: Cli):
    result = cli.run(cli.write("noisy.yaml", NOISY), "--json")
    assert result.code == 3
    report = result.json()
    assert report["status"] == "WAITING_FOR_HUMAN"
    assert report["result"] is None
    [request] = report["requests"]
    assert request["response"] is None
    assert request["default_value"] == "anon"
    assert request["timeout_seconds"] == 60
    assert result.stderr_lines == [
        f"hitlbot: run {report['run_id'][:8]} is waiting for a human; resume with: "
        f"hitlbot resume {report['run_id'][:8]} --db {cli.db} --answers FILE.json"
    ]


def test_a_failed_run_is_reported_with_its_error_and_exit_status_1(cli: Cli):
    procedure = cli.write("failing.yaml", FAILING)
    result = cli.run(procedure, "--answers", cli.answers([{"value": True}]), "--json")
    assert result.code == 1
    report = result.json()
    assert report["status"] == "FAILED"
    assert "the deploy target is gone" in report["error"]
    assert report["result"] is None
    assert [n["message"] for n in report["notifications"]] == ["about to fail"]
    assert len(result.stderr_lines) == 1
    assert result.stderr_lines[0].startswith("hitlbot: error: run ")
    assert "FAILED: " in result.stderr_lines[0]
    assert "Traceback" not in result.stderr


def test_a_failed_run_without_json_says_so_in_one_line_on_stderr(cli: Cli):
    procedure = cli.write("failing.yaml", FAILING)
    result = cli.run(procedure, "--answers", cli.answers([{"value": True}]))
    assert result.code == 1
    assert "[info] about to fail" in result.stdout
    [line] = result.stderr_lines
    assert line.startswith("hitlbot: error: run ")
    assert "(failing) FAILED: " in line
    assert "the deploy target is gone" in line
