"""`hitlbot runs`: what is in the database, most recent first, and what each run waits on."""

from __future__ import annotations

from tests.cli.helpers import APPROVE_NOTES, DEPLOY, EXAMPLES, Cli


def test_no_database_means_no_runs(cli: Cli):
    result = cli("runs", "--db", cli.db)
    assert result.code == 0
    assert "No runs yet" in result.stdout
    assert cli("runs", "--db", cli.db, "--json").json() == {"runs": []}
    assert not cli.db.exists(), "listing must not create a database"


def test_the_listing_shows_status_and_what_a_run_waits_on(cli: Cli):
    done = cli.run(DEPLOY, "--answers", cli.answers([{"value": "reject"}]), "--json").json()
    waiting = cli.run(DEPLOY, "--answers", cli.answers([APPROVE_NOTES]), "--json").json()
    incident = cli.run(EXAMPLES / "incident_escalation.tac", "--json").json()

    listing = cli("runs", "--db", cli.db, "--json")
    assert listing.code == 0
    rows = listing.json()["runs"]
    assert [row["run_id"] for row in rows] == [
        incident["run_id"],
        waiting["run_id"],
        done["run_id"],
    ]
    assert set(rows[0]) == {"run_id", "procedure_id", "status", "updated_at", "waiting_on"}
    assert rows[0]["procedure_id"] == "incident_escalation"
    assert rows[0]["waiting_on"]["request_type"] == "select"
    assert rows[1]["waiting_on"]["message"] == "Change ticket for this production deploy"
    assert rows[2]["status"] == "COMPLETED"
    assert rows[2]["waiting_on"] is None

    table = cli("runs", "--db", cli.db)
    assert table.code == 0
    for run in (done, waiting, incident):
        assert run["run_id"][:8] in table.stdout
    assert "WAITING_FOR_HUMAN" in table.stdout
    assert "COMPLETED" in table.stdout
    assert "input: Change ticket" in table.stdout


def test_only_waiting_runs(cli: Cli):
    cli.run(DEPLOY, "--answers", cli.answers([{"value": "reject"}]))
    waiting = cli.run(DEPLOY, "--json").json()
    rows = cli("runs", "--db", cli.db, "--waiting", "--json").json()["runs"]
    assert [row["run_id"] for row in rows] == [waiting["run_id"]]
