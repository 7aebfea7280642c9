"""Every example completes with its answers file, as README shows it."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import ANSWERS, EXAMPLES, Cli

EXPECTED = {
    "deploy_approval.yaml": {
        "deployed": True,
        "decision": "go",
        "change_ticket": "CHG-20931",
        "feedback": "Call out the Stripe SDK bump for the payments team",
    },
    "incident_escalation.tac": {
        "incident": True,
        "customer_impact": "degraded",
        "impact_timed_out": False,
        "resolution": "Failed over payments-api to eu-west-2; error rate back under 0.1% at 14:32",
    },
    "content_review.yaml": {
        "published": True,
        "status": "edited",
        "feedback": "Named the countries page and softened the Face ID claim",
        "publish_at": "tomorrow_0900",
    },
    "oncall_handover.tac": {
        "accepted": True,
        "health": "yellow",
        "pages": 2,
        "watch": ["refund-worker", "ledger-sync"],
        "runbooks_updated": False,
    },
}


def test_every_example_has_an_answers_file_and_an_expectation():
    procedures = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".tac")}
    assert procedures == set(EXPECTED)
    assert {p.stem for p in ANSWERS.glob("*.json")} == {name.split(".")[0] for name in EXPECTED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_example_completes_with_its_answers(cli: Cli, name: str):
    answers = ANSWERS / f"{name.split('.')[0]}.json"
    result = cli.run(EXAMPLES / name, "--answers", answers, "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["status"] == "COMPLETED"
    assert report["result"] == {**report["result"], **EXPECTED[name]}
    answered = [r for r in report["requests"] if r["response"] is not None]
    assert len(answered) == len(report["requests"]) == len(json.loads(answers.read_text()))
    assert result.stderr == ""


def test_the_content_review_publishes_the_edited_text(cli: Cli):
    answers = json.loads((ANSWERS / "content_review.json").read_text())
    edited = answers[0]["value"]["edited_artifact"]
    result = cli.run(EXAMPLES / "content_review.yaml", "--answers", ANSWERS / "content_review.json")
    assert result.code == 0
    assert "(artifact edited)" in result.stdout
    report = cli("resume", _last_run(cli), "--db", cli.db, "--json").json()
    assert report["result"]["text"] == edited
    [review, when] = report["requests"]
    assert review["response"]["value"]["decision"] == "edit"
    assert when["response"]["timed_out"] is True


def test_the_content_review_label_only_option_reaches_lua_as_written(cli: Cli):
    answers = cli.answers([{"value": {"decision": "request changes", "feedback": "Too long"}}])
    result = cli.run(EXAMPLES / "content_review.yaml", "--answers", answers, "--json")
    assert result.code == 0
    assert result.json()["result"] == {
        "published": False,
        "status": "request_changes",
        "feedback": "Too long",
    }


def test_an_incident_without_customer_impact_is_closed_without_escalating(cli: Cli):
    answers = cli.answers([{"value": "None"}])
    result = cli.run(EXAMPLES / "incident_escalation.tac", "--answers", answers, "--json")
    assert result.code == 0
    report = result.json()
    assert report["result"]["incident"] is False
    assert [r["request_type"] for r in report["requests"]] == ["select"]


def test_the_handover_multi_select_enforces_its_maximum(cli: Cli):
    answers = json.loads((ANSWERS / "oncall_handover.json").read_text())
    answers[1] = {"value": ["checkout-api", "refund-worker", "ledger-sync", "fraud-scoring"]}
    result = cli.run(EXAMPLES / "oncall_handover.tac", "--answers", cli.answers(answers))
    assert result.code == 1
    assert "choose at most 3 options" in result.stderr


def _last_run(cli: Cli) -> str:
    return cli("runs", "--db", cli.db, "--json").json()["runs"][0]["run_id"]
