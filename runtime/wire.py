"""How the engine and its worker processes talk: framed messages over a pair of pipes.

A message is a small JSON header (`{"op": ...}` and scalars) and a body of bytes (a model's
JSON, or nothing), each preceded by its length. JSON rather than pickle in both directions: a
worker runs untrusted procedures, so nothing it sends may be able to run code in the engine's
process, and every body is validated against its pydantic model on arrival.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">I")
MAX_HEADER = 64 * 1024
MAX_BODY = 256 * 1024 * 1024
"""Largest body accepted: far above what quotas let an execution produce, far below what
would hurt the process reading it."""


class WireError(Exception):
    """The other side closed the pipe, or sent something that is not a message."""


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + _LENGTH.pack(len(body)) + body


def decode_header(data: bytes) -> dict[str, Any]:
    try:
        header = json.loads(data)
    except ValueError as exc:
        raise WireError(f"malformed message header ({exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("op"), str):
        raise WireError("message header without an op")
    return header


def length(data: bytes, limit: int) -> int:
    (size,) = _LENGTH.unpack(data)
    if size > limit:
        raise WireError(f"message part of {size} bytes (at most {limit})")
    return size


def read_message(stream: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """Blocking read of one message (the worker's side: it has nothing else to do)."""
    header = decode_header(_read_exact(stream, length(_read_exact(stream, 4), MAX_HEADER)))
    return header, _read_exact(stream, length(_read_exact(stream, 4), MAX_BODY))


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise WireError("the pipe was closed")
    return data
