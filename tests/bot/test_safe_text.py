"""Control and bidi-override characters never reach Slack as they were written."""

from __future__ import annotations

import pytest

from bot.safe_text import REPLACEMENT, neutralise, neutralise_all


@pytest.mark.parametrize(
    "unsafe",
    ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u202a", "\u2066", "\u2069", "\u2028"],
    ids=["nul", "escape", "del", "c1-next-line", "rlo", "lre", "lri", "pdi", "line-sep"],
)
def test_each_unsafe_character_is_replaced_visibly(unsafe: str) -> None:
    assert neutralise(f"deploy{unsafe}prod") == f"deploy{REPLACEMENT}prod"


def test_ordinary_text_tabs_newlines_and_scripts_are_kept() -> None:
    text = "Ship *api*?\n\tversion 2.4.1 — שלום مرحبا 日本 🚀 \u200b"
    assert neutralise(text) == text


def test_a_trojan_source_name_cannot_reorder_what_people_read() -> None:
    # "tsaprc" displayed right-to-left would read "crpast": the override is made visible.
    assert "\u202e" not in neutralise("Approve deploy of \u202etsaprc\u202c?")


def test_nested_block_kit_is_neutralised_keys_and_values() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a\x00b"}, "n": 3}]
    assert neutralise_all(blocks) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"a{REPLACEMENT}b"}, "n": 3}
    ]
    assert neutralise_all({"k\u202e": None, "t": True}) == {f"k{REPLACEMENT}": None, "t": True}


def test_a_views_private_metadata_is_left_as_sealed() -> None:
    view = {"title": {"text": "x\u202e"}, "private_metadata": '{"note":"a\u202eb"}'}
    assert neutralise_all(view) == {
        "title": {"text": f"x{REPLACEMENT}"},
        "private_metadata": '{"note":"a\u202eb"}',
    }
