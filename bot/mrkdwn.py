"""Markdown from procedures turned into Slack mrkdwn, and the escaping all outside text needs.

Slack's mrkdwn is not Markdown: `*bold*`, `_italic_`, `~strike~`, `<url|text>` links, no
headings and no tables. And `&`, `<`, `>` are control characters: a literal `<!channel>` in a
procedure's message (or in a parameter someone typed) would ping a whole channel, and
`<https://evil|Approve>` would be a link nobody wrote on purpose. So everything a procedure or a
person wrote is escaped first, and only the constructs converted here come out as markup.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
FENCE = "```"
SAFE_URL = re.compile(r"(?:https?://|mailto:)[^\s<>]+", re.IGNORECASE)
# Bare broadcast words are not mentions in Block Kit, but a zero-width space makes sure no
# client or `parse=full` setting ever turns "@channel" typed in a parameter into a ping.
BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
ZERO_WIDTH_SPACE = "\u200b"

# Private-use characters mark spans already converted, so later rules leave them alone.
_SLOT_OPEN, _SLOT_CLOSE, _BOLD = "\ue000", "\ue001", "\ue002"
_PRIVATE = re.compile("[\ue000-\ue002]")

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK = re.compile(
    r"(!?)\[([^\]\n]*)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))*)>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^\s<>|]+)>", re.IGNORECASE)
_BOLD_ITALIC = re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BOLD_UNDERSCORES = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")

_FENCE_LINE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?:\[([ xX])\]\s+)?(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")

BULLETS = ("•", "◦", "▪")
RULE_TEXT = "──────────"


def escape(text: str) -> str:
    """Make any text safe to show inside mrkdwn: Slack's three control characters become
    entities (so nothing can mention, link or format by accident) and broadcast words are
    defused."""
    text = escape_code(text)
    return BROADCAST.sub(lambda m: "@" + ZERO_WIDTH_SPACE + m.group(1), text)


def escape_code(text: str) -> str:
    """Escape only `&`, `<` and `>`: inside code spans people copy text, so it stays exact."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str | None = None) -> str:
    """A Slack link to a safe URL (http, https, mailto); anything else is shown as text."""
    if not SAFE_URL.fullmatch(url):
        return escape(label or url)
    target = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E")
    target = target.replace("|", "%7C")
    if not label or label == url:
        return f"<{target}>"
    return f"<{target}|{escape(label).replace('|', '¦')}>"


def to_mrkdwn(markdown: str) -> str:
    """Convert procedure Markdown to mrkdwn: bold, italics, strikethrough, links, headings as
    bold lines, bullets, quotes, tables as aligned code; code is kept and only escaped."""
    lines = _PRIVATE.sub("", str(markdown)).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    nesting: list[int] = []  # indents of the open list levels
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_LINE.match(line)
        if fence:
            i = _code_block(lines, i, fence.group(1), out)
            continue
        if _is_table(lines, i):
            i = _table(lines, i, out)
            continue
        if i + 1 < len(lines) and _is_setext(line, lines[i + 1]):
            out.append(_heading(line.strip()))
            i += 2
            continue
        out.append(_line(line, nesting))
        i += 1
    return "\n".join(out).strip("\n")


def _code_block(lines: list[str], start: int, marker: str, out: list[str]) -> int:
    """Copy a fenced block as a Slack code block (Slack has no language tags)."""
    out.append(FENCE)
    i = start + 1
    while i < len(lines):
        if lines[i].strip().startswith(marker[0] * len(marker)):
            break
        out.append(escape_code(lines[i]).replace(FENCE, "`\u200b``"))
        i += 1
    out.append(FENCE)
    return i + 1


def _is_table(lines: list[str], i: int) -> bool:
    return (
        i + 1 < len(lines)
        and bool(_TABLE_ROW.match(lines[i]))
        and bool(_TABLE_RULE.match(lines[i + 1]))
    )


def _table(lines: list[str], start: int, out: list[str]) -> int:
    """Slack cannot draw tables: an aligned monospace block reads best."""
    rows = [_cells(lines[start])]
    i = start + 2
    while i < len(lines) and _TABLE_ROW.match(lines[i]):
        rows.append(_cells(lines[i]))
        i += 1
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    sizes = [max(len(row[c]) for row in rows) for c in range(width)]
    rendered = ["  ".join(cell.ljust(sizes[c]) for c, cell in enumerate(row)) for row in rows]
    rendered.insert(1, "  ".join("-" * size for size in sizes))
    out.append(FENCE)
    out.extend(escape_code(row.rstrip()) for row in rendered)
    out.append(FENCE)
    return i


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _is_setext(line: str, underline: str) -> bool:
    """`Title` over `===` (or `---`) is a heading; a plain `---` elsewhere is a rule."""
    if not line.strip() or not _SETEXT.match(underline):
        return False
    return not any(rx.match(line) for rx in (_HEADING, _QUOTE, _BULLET, _ORDERED, _RULE))


def _heading(text: str) -> str:
    return f"*{inline(text, bold=False)}*" if text else ""


def _line(line: str, nesting: list[int]) -> str:
    """One line outside code: its block prefix (heading, quote, list, rule), then inline."""
    if not line.strip():
        return ""
    heading = _HEADING.match(line)
    if heading:
        nesting.clear()
        return _heading(heading.group(2))
    if _RULE.match(line):
        nesting.clear()
        return RULE_TEXT
    quote = _QUOTE.match(line)
    if quote:
        nesting.clear()
        return "> " + _line(quote.group(1), []) if quote.group(1).strip() else ">"
    bullet = _BULLET.match(line)
    if bullet:
        indent, check, text = bullet.groups()
        level = _level(len(indent.expandtabs(4)), nesting)
        mark = BULLETS[min(level, len(BULLETS) - 1)]
        if check is not None:
            mark = "☑" if check.lower() == "x" else "☐"
        return "    " * level + f"{mark} {inline(text)}"
    ordered = _ORDERED.match(line)
    if ordered:
        indent, number, text = ordered.groups()
        level = _level(len(indent.expandtabs(4)), nesting)
        return "    " * level + f"{number}. {inline(text)}"
    return inline(line.strip())


def _level(indent: int, nesting: list[int]) -> int:
    """Nesting depth of a list item from its indent, whatever indent width the author used."""
    while nesting and indent < nesting[-1]:
        nesting.pop()
    if not nesting or indent > nesting[-1]:
        nesting.append(indent)
    return len(nesting) - 1


def inline(text: str, *, bold: bool = True) -> str:
    """Inline Markdown of one line: code spans stay code, the rest is escaped and converted."""
    out: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(text):
        out.append(_inline_text(text[position : span.start()], bold))
        out.append("`" + escape_code(span.group(2).strip().replace("`", "'")) + "`")
        position = span.end()
    out.append(_inline_text(text[position:], bold))
    return "".join(out)


def _inline_text(text: str, bold: bool) -> str:
    slots: list[str] = []

    def keep(rendered: str) -> str:
        slots.append(rendered)
        return f"{_SLOT_OPEN}{len(slots) - 1}{_SLOT_CLOSE}"

    text = _LINK.sub(lambda m: keep(link(m.group(3), _plain(m.group(2)) or m.group(3))), text)
    text = _AUTOLINK.sub(lambda m: keep(link(m.group(1))), text)
    text = escape(text)
    strong = _BOLD if bold else ""
    text = _BOLD_ITALIC.sub(lambda m: f"{strong}_{m.group(1)}_{strong}", text)
    text = _BOLD_STARS.sub(lambda m: f"{strong}{m.group(1)}{strong}", text)
    text = _BOLD_UNDERSCORES.sub(lambda m: f"{strong}{m.group(1)}{strong}", text)
    text = _ITALIC_STAR.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = text.replace(_BOLD, "*")
    return re.sub(f"{_SLOT_OPEN}(\\d+){_SLOT_CLOSE}", lambda m: slots[int(m.group(1))], text)


def _plain(label: str) -> str:
    """A link label without Markdown emphasis: Slack shows link text as written."""
    return re.sub(r"[*_~`]+", "", label).strip()


# --- sizes --------------------------------------------------------------------------------


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Fit `text` in `limit` characters, cut on a line or word boundary, ending in "…".

    Also safe for mrkdwn: never cuts inside an entity (`&amp;`) or a `<...>` link, and closes
    a code block left open, so a truncated text still renders as intended. Returns the text
    and whether anything was cut.
    """
    if len(text) <= limit:
        return text, False
    if limit <= 1:
        return ELLIPSIS[:limit], True
    head = _cut(text, limit - 1)
    if head.count(FENCE) % 2:
        head = _cut(text, max(limit - 1 - len("\n" + FENCE), 0))
        if head.count(FENCE) % 2:
            return head + ELLIPSIS + "\n" + FENCE, True
    return head + ELLIPSIS, True


def _cut(text: str, budget: int) -> str:
    head = text[:budget]
    boundary = _boundary(head, text[budget : budget + 1])
    head = head[:boundary].rstrip()
    return _drop_open_markup(head)


def _boundary(head: str, following: str) -> int:
    """Where to cut: the last line break or space in the later part of `head`, if any."""
    if following in ("", "\n", " "):
        return len(head)
    floor = len(head) * 2 // 3
    for separator in ("\n", " "):
        at = head.rfind(separator)
        if at >= floor:
            return at
    return len(head)


def _drop_open_markup(head: str) -> str:
    """Remove an entity or a `<link>` the cut left unfinished."""
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    angle = head.rfind("<")
    if angle != -1 and ">" not in head[angle:]:
        head = head[:angle]
    return head.rstrip()


def split(text: str, limit: int) -> list[str]:
    """Split long mrkdwn into pieces of at most `limit` characters for consecutive blocks.

    Cuts between lines where it can; a code block crossing a cut is closed and reopened, so
    each piece renders on its own.
    """
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    in_code = False
    room = limit - len(FENCE) * 2 - 2  # space for closing and reopening a code block

    def flush() -> None:
        nonlocal current, size
        if current:
            body = "\n".join(current)
            pieces.append(body + ("\n" + FENCE if in_code else ""))
        current, size = ([FENCE] if in_code else []), (len(FENCE) + 1 if in_code else 0)

    for line in text.split("\n"):
        for part in _hard_split(line, room):
            if current and size + len(part) > room:
                flush()
            current.append(part)
            size += len(part) + 1
        if line.count(FENCE) % 2:
            in_code = not in_code
    if current:
        pieces.append("\n".join(current))
    return [piece for piece in pieces if piece.strip() and piece.strip() != FENCE] or [""]


def _hard_split(line: str, room: int) -> list[str]:
    """A line longer than a piece, cut where no entity or link is broken."""
    parts = []
    while len(line) > room:
        cut = len(_drop_open_markup(line[:room])) or room
        parts.append(line[:cut])
        line = line[cut:]
    parts.append(line)
    return parts
