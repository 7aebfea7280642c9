"""The cost of a Lua string pattern, computed before Lua runs it.

Lua's pattern matcher runs in C, where the sandbox's instruction hook cannot stop it; a pattern
that backtracks over a long subject could run for minutes. The sandbox asks this model for the
worst-case steps of each `string.find/match/gmatch/gsub` call and refuses the ones over
`PATTERN_BUDGET`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import NamedTuple

# Steps of Lua's backtracking matcher one string.find/match/gmatch/gsub call may take (see
# `pattern_cost`). Measured at 0.3 to 1.5 ns a step on adversarial subjects: at most about
# half a second of C time, which the hook cannot interrupt.
PATTERN_BUDGET = 4e8


# -- string pattern cost ----------------------------------------------------------------------
#
# Lua's matcher backtracks: a `*`, `+` or `-` item tries every length of its run with the rest
# of the pattern, `?` tries both ways, and an unanchored search starts again at every position.
# The model below bounds those steps from the pattern's structure alone, which is all the Lua
# side asks for as long as subjects are short enough. For a longer subject it bounds each
# repeated item by what that subject allows:
#
# - the longest run of characters the item's class matches there, which tells
#   `s:match("^%s*(.-)%s*$")` on ordinary text (short blank runs) from a string of spaces;
# - for a lazy `-` item followed by a fixed "stopper" (`(.-)\n`, `"(.-)"`) after which nothing
#   can fail, the longest stretch of the subject without that stopper.
#
# A repeated item whose rest cannot fail (`%s+` at the end) scans once per match, inside text
# the match consumes, so it adds to the total instead of multiplying.


class _Item(NamedTuple):
    kind: str  # single, repeat, open, close, position, end, balance, frontier, backref
    text: bytes = b""  # pattern text of a single item (merged runs) or of a repeat's class
    quantifier: bytes = b""

    @property
    def width(self) -> int:
        """Characters compared per step: a set compares against each of its members."""
        return max(1, len(self.text))


_QUANTIFIERS = b"*+-?"
# Characters that are single unquantified items by themselves.
_PLAIN_RUN = re.compile(rb"[^()%\[.*+\-?$]+")
_MAX_PATTERN_ITEMS = 500
_MAX_MEASURED_CLASSES = 8
_MAX_SUBJECT = 2**40
_CLASS_TESTS: dict[bytes, Callable[[int], bool]] = {
    b"a": lambda c: bytes([c]).isalpha(),
    b"c": lambda c: c < 32 or c == 127,
    b"d": lambda c: 48 <= c <= 57,
    b"g": lambda c: 32 < c < 127,
    b"l": lambda c: 97 <= c <= 122,
    b"p": lambda c: 32 < c < 127 and not bytes([c]).isalnum(),
    b"s": lambda c: bytes([c]).isspace(),
    b"u": lambda c: 65 <= c <= 90,
    b"w": lambda c: bytes([c]).isalnum(),
    b"x": lambda c: bytes([c]) in b"0123456789abcdefABCDEF",
}


def pattern_cost(
    subject_length: int,
    pattern: str | bytes,
    *,
    kind: str = "find",
    subject: bytes | None = None,
) -> float:
    """Worst-case steps of Lua's matcher for one call of string.`kind` (find, match, gmatch,
    gsub, or plain for a plain find) of `pattern` over a subject of `subject_length` bytes.

    Without `subject` the bound holds for any subject of that length.
    """
    if isinstance(pattern, str):
        pattern = pattern.encode()
    n = subject_length
    if kind == "plain":
        return (n + 1.0) * max(1, len(pattern))
    anchored, items = _parse_pattern(pattern, kind != "gmatch")
    if items is None:
        return math.inf
    subject_bounds = _Subject(subject) if subject is not None else None
    per_start, once = _cost_per_start(items, n, subject_bounds)
    copied = n if kind == "gsub" else 0  # gsub copies the subject around the matches
    return (1 if anchored else n + 1) * per_start + once + copied


def _cost_per_start(
    items: tuple[_Item, ...], n: int, subject: _Subject | None
) -> tuple[float, float]:
    """Steps from one start position, and steps spent at most once per call."""
    cost, once = 1.0, 0.0
    can_fail, empty_at_end = False, True  # of the rest of the pattern
    stopper = None  # a single item the rest starts with, after which nothing can fail
    for item in reversed(items):
        if item.kind in ("open", "close", "position"):
            cost += 1
            continue
        if item.kind == "end":
            can_fail = True
        elif item.kind == "single":
            stopper = None if can_fail else item.text
            cost += item.width
            can_fail, empty_at_end = True, False
            continue
        elif item.kind in ("frontier", "balance", "backref"):
            cost += item.width if item.kind == "frontier" else n
            can_fail, empty_at_end = True, False
        elif item.quantifier == b"?":
            cost = item.width + (2 * cost if can_fail else cost)
        elif can_fail:
            run = subject.run(item.text) if subject else n
            if subject and stopper and item.quantifier == b"-":
                run = min(run, subject.gap(stopper))
            cost = (run + 1) * (item.width + cost)
            reaches_end = item.text == b"." and empty_at_end
            can_fail = item.quantifier == b"+" or not reaches_end
        else:
            if item.quantifier != b"-":
                once += n * item.width
            cost += item.width
            can_fail = item.quantifier == b"+"
        if item.quantifier == b"+":
            empty_at_end = False
        stopper = None
    return cost, once


class _Subject:
    """What one subject allows the matcher, measured on demand for a few classes at most."""

    def __init__(self, subject: bytes) -> None:
        self._subject = subject
        self._runs: dict[bytes, int] = {}

    def run(self, cls: bytes) -> int:
        """Longest run of characters of the class: how far a repeat of it can extend."""
        if cls == b"." or len(self._runs) >= _MAX_MEASURED_CLASSES:
            return len(self._subject)
        if cls not in self._runs:
            self._runs[cls] = _longest_run(self._subject, _class_table(cls, b"x", b" "))
        return self._runs[cls]

    def gap(self, stopper: bytes) -> int:
        """Farthest any position is from the next place where `stopper` can match."""
        if _PLAIN_RUN.fullmatch(stopper):
            return max(map(len, self._subject.split(stopper))) + len(stopper)
        first = stopper[: _class_end(stopper, 0)]
        return _longest_run(self._subject, _class_table(first, b" ", b"x")) + 1


def _longest_run(subject: bytes, table: bytes) -> int:
    return max(map(len, subject.translate(table).split()), default=0)


@functools.lru_cache(maxsize=256)
def _parse_pattern(pattern: bytes, can_anchor: bool) -> tuple[bool, tuple[_Item, ...] | None]:
    """The items of a pattern as lstrlib's `match` reads them (None if there are too many).

    Runs of unquantified single items merge into one item; malformed patterns get a
    best-effort reading, as Lua refuses them anyway.
    """
    anchored = can_anchor and pattern.startswith(b"^")
    items: list[_Item] = []
    literal = b""
    i, n = int(anchored), len(pattern)
    while i < n:
        end = _plain_run_end(pattern, i)
        if end > i:
            literal, i = literal + pattern[i:end], end
            continue
        item, i = _next_item(pattern, i)
        if item.kind == "single":
            literal += item.text
            continue
        if literal:
            items.append(_Item("single", literal))
            literal = b""
        items.append(item)
        if len(items) > _MAX_PATTERN_ITEMS:
            return anchored, None
    if literal:
        items.append(_Item("single", literal))
    return anchored, tuple(items)


def _plain_run_end(pattern: bytes, i: int) -> int:
    """End of the run of plain characters at i, leaving out one that takes a quantifier."""
    run = _PLAIN_RUN.match(pattern, i)
    if run is None:
        return i
    end = run.end()
    if pattern[end : end + 1] and pattern[end : end + 1] in _QUANTIFIERS:
        end -= 1
    return end


def _next_item(pattern: bytes, i: int) -> tuple[_Item, int]:
    c, code = pattern[i : i + 1], pattern[i + 1 : i + 2]
    if c == b"(":
        return (_Item("position"), i + 2) if code == b")" else (_Item("open"), i + 1)
    if c == b")":
        return _Item("close"), i + 1
    if c == b"$" and i == len(pattern) - 1:
        return _Item("end"), i + 1
    if c == b"%" and code == b"b":
        return _Item("balance"), i + 4
    if c == b"%" and code == b"f":
        end = _class_end(pattern, i + 2)
        return _Item("frontier", pattern[i + 2 : end]), end
    if c == b"%" and code.isdigit():
        return _Item("backref"), i + 2
    end = _class_end(pattern, i)
    text, quantifier = pattern[i:end], pattern[end : end + 1]
    if quantifier and quantifier in _QUANTIFIERS:
        return _Item("repeat", text, quantifier), end + 1
    return _Item("single", text), end


def _class_end(pattern: bytes, i: int) -> int:
    """Where the character class at i ends (lstrlib's classEnd)."""
    n = len(pattern)
    c = pattern[i : i + 1]
    i += 1
    if c == b"%":
        return min(i + 1, n)
    if c != b"[":
        return i
    if pattern[i : i + 1] == b"^":
        i += 1
    while i < n:  # the first character is a member even if it is "]"
        if pattern[i : i + 1] == b"%":
            i += 1
        i += 1
        if pattern[i : i + 1] == b"]":
            return i + 1
    return n


@functools.lru_cache(maxsize=256)
def _class_table(cls: bytes, member: bytes, other: bytes) -> bytes:
    """A translation table from each byte to `member` or `other`, for run lengths."""
    return b"".join(member if _in_class(c, cls) else other for c in range(256))


def _in_class(c: int, cls: bytes) -> bool:
    if cls.startswith(b"%"):
        return _in_escape(c, cls[1:2])
    if cls.startswith(b"["):
        return _in_set(c, cls[1:-1] if cls.endswith(b"]") and len(cls) > 2 else cls[1:])
    return cls == b"." or cls[:1] == bytes([c])


def _in_escape(c: int, code: bytes) -> bool:
    test = _CLASS_TESTS.get(code.lower())
    if test is None:
        return code == bytes([c])
    return test(c) != code.isupper()


def _in_set(c: int, body: bytes) -> bool:
    negate = body.startswith(b"^")
    if negate:
        body = body[1:]
    i = 0
    while i < len(body):
        if body[i : i + 1] == b"%" and i + 1 < len(body):
            found, i = _in_escape(c, body[i + 1 : i + 2]), i + 2
        elif body[i + 1 : i + 2] == b"-" and i + 2 < len(body):
            found, i = body[i] <= c <= body[i + 2], i + 3
        else:
            found, i = body[i] == c, i + 1
        if found:
            return not negate
    return negate


def lua_pattern_limit(pattern: bytes, kind: bytes) -> int:
    """For Lua: the longest subject on which `pattern` keeps within budget whatever it holds."""
    name = kind.decode()
    if pattern_cost(_MAX_SUBJECT, pattern, kind=name) <= PATTERN_BUDGET:
        return _MAX_SUBJECT
    low, high = -1, _MAX_SUBJECT  # cost(low) <= budget < cost(high); -1: not even ""
    while high - low > 1:
        middle = (low + high) // 2
        if pattern_cost(middle, pattern, kind=name) <= PATTERN_BUDGET:
            low = middle
        else:
            high = middle
    return low


def lua_pattern_cost(subject: bytes, pattern: bytes, kind: bytes) -> float:
    """For Lua: the bound for this very subject."""
    return pattern_cost(len(subject), pattern, kind=kind.decode(), subject=subject)
