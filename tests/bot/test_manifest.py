"""The app manifests are ones Slack's schema accepts, and they ask for what the bot uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# Slack's published manifest schema (slackapi/manifest-schema, manifest.schema.1.0.0.json).
SCHEMA = Path(__file__).parent / "data" / "slack-manifest.schema.json"
MANIFESTS = ["manifest.yml", "manifest.socket.yml"]


def load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_validates_against_slacks_schema(name: str) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(load(name), schema)


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_grants_the_scopes_and_events_the_bot_needs(name: str) -> None:
    manifest = load(name)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public", "users:read"} <= scopes
    assert {"usergroups:read", "im:write", "channels:history"} <= scopes
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_http_manifest_points_every_url_at_the_events_endpoint() -> None:
    manifest = load("manifest.yml")
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_socket_manifest_has_no_request_urls() -> None:
    manifest = load("manifest.socket.yml")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert "url" not in manifest["features"]["slash_commands"][0]
