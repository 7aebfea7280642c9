"""Text that is safe to put in front of people in Slack.

Procedures, parameters and answers are written by people the bot does not trust. Besides
Slack's own markup (escaped in `bot.mrkdwn`), two kinds of characters must never reach a
message: control characters (NUL, escapes, C1 codes), which Slack clients render unpredictably
or drop along with what follows, and the bidirectional overrides and isolates, which can make
"Approve deploy of tsaprc" read as something else than what was written (the "Trojan Source"
trick). Each is replaced by U+FFFD, visibly: removing it silently could join words into a
different meaning, and a visible mark tells the reader something odd was there.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

# C0 controls but tab and newline, DEL, C1 controls, the bidi embeddings and overrides
# (U+202A-U+202E), the bidi isolates (U+2066-U+2069), and the line/paragraph separators,
# which some clients treat as invisible line breaks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def neutralise(text: str) -> str:
    """`text` with every control and bidi-override character replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, text)


# Never shown to anyone, and sealed by the bot (bot.view_seal): left exactly as written.
_NOT_SHOWN = frozenset({"private_metadata"})


def neutralise_all(value: Any) -> Any:
    """A copy of JSON-like data (Block Kit, a view) with every string neutralised, keys too,
    but for a view's `private_metadata`, which nobody sees and whose seal must still match."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {
            neutralise_all(k): v if k in _NOT_SHOWN else neutralise_all(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [neutralise_all(v) for v in value]
    return value
