"""Block Kit payloads the UI tests post through devslack's Web API.

They cover every block and element type the web UI renders, so the screenshot artifact shows
them all, and they carry untrusted text that must reach the page escaped.
"""

from __future__ import annotations

#: Text that would run script if the UI ever put message text into innerHTML.
HOSTILE_TEXT = (
    '<script>window.__xss = "script"</script>'
    '<img src="x" onerror="window.__xss = \'img\'">'
    " <javascript:window.__xss='link'|click me>"
)

#: mrkdwn exercising every inline feature; `{bob}`, `{deploys}` and `{oncall}` are ids.
MRKDWN_SAMPLE = (
    "*bold* _italic_ ~strike~ `code` and <https://example.com/docs|the docs>\n"
    "hi <@{bob}> see <#{deploys}> <!here> <!subteam^{oncall}>\n"
    "&gt; a quoted line\n"
    "```line one\n<b>not bold</b>```"
)


def kitchen_sink_blocks(bob: str, deploys: str, oncall: str) -> list[dict]:
    """A message using every block type and interactive element the UI supports."""
    option = _options("Staging", "Production", "Canary")
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy request"}},
        {
            "type": "section",
            "block_id": "summary",
            "text": {
                "type": "mrkdwn",
                "text": MRKDWN_SAMPLE.format(bob=bob, deploys=deploys, oncall=oncall),
            },
            "accessory": {
                "type": "overflow",
                "action_id": "more",
                "options": _options("Show logs", "Cancel run"),
            },
        },
        {
            "type": "section",
            "block_id": "facts",
            "fields": [
                {"type": "mrkdwn", "text": "*Service*\napi"},
                {"type": "mrkdwn", "text": "*Version*\n`v1.2.3`"},
                {"type": "mrkdwn", "text": "*Requested by*\n<@" + bob + ">"},
                {"type": "plain_text", "text": "Plain <b>text</b> field"},
            ],
        },
        {"type": "divider"},
        {
            "type": "section",
            "block_id": "target",
            "text": {"type": "mrkdwn", "text": "Pick an environment"},
            "accessory": {
                "type": "static_select",
                "action_id": "env",
                "placeholder": {"type": "plain_text", "text": "Environment"},
                "options": option,
            },
        },
        {
            "type": "actions",
            "block_id": "choices",
            "elements": [
                {
                    "type": "multi_static_select",
                    "action_id": "regions",
                    "placeholder": {"type": "plain_text", "text": "Regions"},
                    "options": _options("eu-west", "us-east"),
                    "initial_options": _options("eu-west"),
                },
                {
                    "type": "users_select",
                    "action_id": "reviewer",
                    "placeholder": {"type": "plain_text", "text": "Reviewer"},
                },
                {
                    "type": "external_select",
                    "action_id": "ticket",
                    "placeholder": {"type": "plain_text", "text": "Ticket"},
                },
                {"type": "datepicker", "action_id": "when", "initial_date": "2026-03-14"},
            ],
        },
        {
            "type": "actions",
            "block_id": "toggles",
            "elements": [
                {
                    "type": "checkboxes",
                    "action_id": "checks",
                    "options": _options("Run smoke tests", "Notify #incidents"),
                },
                {
                    "type": "radio_buttons",
                    "action_id": "speed",
                    "options": _options("Rolling", "All at once"),
                    "initial_option": _options("Rolling")[0],
                },
            ],
        },
        {
            "type": "image",
            "image_url": "https://example.com/graph.png",
            "alt_text": "error-rate graph",
            "title": {"type": "plain_text", "text": "Error rate"},
        },
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": "ks_approve",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "yes",
                },
                {
                    "type": "button",
                    "action_id": "ks_reject",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": "no",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Reject?"},
                        "text": {"type": "mrkdwn", "text": "This *cannot* be undone."},
                        "confirm": {"type": "plain_text", "text": "Reject"},
                        "deny": {"type": "plain_text", "text": "Keep"},
                        "style": "danger",
                    },
                },
                {
                    "type": "button",
                    "action_id": "ks_details",
                    "text": {"type": "plain_text", "text": "Details"},
                },
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "api"},
                {"type": "mrkdwn", "text": "Run *42* · started by <@" + bob + ">"},
            ],
        },
    ]


def kitchen_sink_attachments(bob: str) -> list[dict]:
    """A legacy attachment (still common from bots): colour bar, title link, fields."""
    return [
        {
            "color": "good",
            "title": "Runbook",
            "title_link": "https://example.com/runbook",
            "text": "*Rollback*: `deploy --undo`",
            "fields": [{"title": "Owner", "value": f"<@{bob}>", "short": True}],
            "footer": "deploy-bot",
        }
    ]


def _options(*labels: str) -> list[dict]:
    return [
        {"text": {"type": "plain_text", "text": label}, "value": label.lower().replace(" ", "-")}
        for label in labels
    ]
