"""Procedure Markdown shown in Slack: converted to mrkdwn, escaped, and cut without breaking."""

from __future__ import annotations

import re

import pytest

from bot.mrkdwn import ELLIPSIS, escape, split, to_mrkdwn, truncate

HOSTILE = "<!channel> <!here> <@U0BOB0001> <https://evil.example|Approve> & <b>"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold**", "*bold*"),
        ("__bold__", "*bold*"),
        ("*italic*", "_italic_"),
        ("_italic_", "_italic_"),
        ("***both***", "*_both_*"),
        ("~~gone~~", "~gone~"),
        ("[docs](https://example.com/a?b=1&c=2)", "<https://example.com/a?b=1&amp;c=2|docs>"),
        ("<https://example.com>", "<https://example.com>"),
        ("![diagram](https://example.com/d.png)", "<https://example.com/d.png|diagram>"),
        ("# Release 2.14", "*Release 2.14*"),
        ("### **Changes**", "*Changes*"),
        ("Title\n=====", "*Title*"),
        ("- one\n- two", "• one\n• two"),
        ("* one\n  * nested\n    * deeper", "• one\n    ◦ nested\n        ▪ deeper"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("- [x] done\n- [ ] todo", "☑ done\n☐ todo"),
        ("> quoted **text**", "> quoted *text*"),
        ("a\n\n---\n\nb", "a\n\n──────────\n\nb"),
        ("use `a < b && **c**`", "use `a &lt; b &amp;&amp; **c**`"),
        (
            "```python\nif a < b:\n    print('**x**')\n```",
            "```\nif a &lt; b:\n    print('**x**')\n```",
        ),
        ("snake_case_name stays", "snake_case_name stays"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_markdown_becomes_slack_mrkdwn(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_a_table_becomes_an_aligned_code_block() -> None:
    text = to_mrkdwn("| service | version |\n|---|---|\n| checkout-api | 2.14.0 |")
    assert text.splitlines() == [
        "```",
        "service       version",
        "------------  -------",
        "checkout-api  2.14.0",
        "```",
    ]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "relative/path.md", "!channel"]
)
def test_links_to_unsafe_targets_show_only_their_text(url: str) -> None:
    assert to_mrkdwn(f"[click me]({url})") == "click me"


@pytest.mark.parametrize("convert", [escape, to_mrkdwn])
def test_outside_text_cannot_mention_link_or_inject_markup(convert) -> None:
    text = convert(HOSTILE + " @channel @here @everyone")
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert not re.search(r"@(channel|here|everyone)\b", text)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[<!channel>](https://example.com)", "<https://example.com|&lt;!channel&gt;>"),
        ("[a|b](https://example.com/x|y)", "<https://example.com/x%7Cy|a¦b>"),
        (
            "[wiki](https://en.wikipedia.org/wiki/A_(b))",
            "<https://en.wikipedia.org/wiki/A_(b)|wiki>",
        ),
        ("[x](https://example.com/y>z)", "[x](https://example.com/y&gt;z)"),
    ],
)
def test_link_labels_and_urls_cannot_break_out_of_the_link(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_unicode_is_kept() -> None:
    assert to_mrkdwn("**Déploiement** 🚀 — 完了") == "*Déploiement* 🚀 — 完了"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("hello world again", 12, "hello world…"),
        ("line one\nline two\nline three", 20, "line one\nline two…"),
        ("abcdefghijklmnop", 8, "abcdefg…"),
        ("a &amp; b", 6, "a…"),
        ("see <https://example.com/long|the docs> now", 20, "see…"),
    ],
)
def test_truncate_cuts_on_boundaries_without_breaking_markup(
    text: str, limit: int, expected: str
) -> None:
    cut, was_cut = truncate(text, limit)
    assert cut == expected
    assert was_cut == (text != expected)
    assert len(cut) <= limit


def test_truncate_closes_a_code_block_it_cuts_open() -> None:
    text = "intro\n```\n" + "x = 1\n" * 200 + "```"
    cut, was_cut = truncate(text, 120)
    assert was_cut and len(cut) <= 120
    assert cut.count("```") == 2 and cut.endswith("```")


@pytest.mark.parametrize("limit", [1, 2, 5, 75, 150, 3000])
def test_truncate_always_fits(limit: int) -> None:
    text = escape(HOSTILE * 200)
    cut, was_cut = truncate(text, limit)
    assert was_cut and len(cut) <= limit and cut.endswith(ELLIPSIS)


def test_split_keeps_every_piece_within_the_limit_and_code_blocks_balanced() -> None:
    text = to_mrkdwn(
        "# Notes\n" + "- item with some words\n" * 300 + "```\n" + "code line\n" * 400 + "```"
    )
    pieces = split(text, 500)
    assert len(pieces) > 10
    assert all(len(piece) <= 500 for piece in pieces)
    assert all(piece.count("```") % 2 == 0 for piece in pieces)
    assert sum(piece.count("• item") for piece in pieces) == 300


def test_split_cuts_a_single_huge_line() -> None:
    pieces = split("word " * 2000, 300)
    assert all(len(piece) <= 300 for piece in pieces)
    assert "".join(pieces).count("word") == 2000
