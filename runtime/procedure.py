"""A loaded procedure: what a file declares and the Lua to execute, whatever its format.

Execution contract (the engine relies on it, the loaders produce it):

- `format` YAML (Plexus or legacy Tactus): `code` is a function body. The engine sets the globals
  `params` and `input` to the parameter values and runs `code` as a chunk; its `return` value is
  the result.
- `format` TAC: `code` is the whole file. The engine installs `runtime.declarations` in the
  sandbox, runs `code` as a chunk, then calls `declarations.entry_point(sandbox)`: the function
  registered by `Procedure {...}`, `procedure(...)` or `function main()`, called with the input
  table; when there is none (script mode) the chunk itself was the body and its return value
  is the result.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FieldType = Literal["string", "number", "integer", "boolean", "array", "object"]


class ProcedureFormat(StrEnum):
    PLEXUS_YAML = "plexus_yaml"
    TACTUS_YAML = "tactus_yaml"
    TAC = "tac"


class FieldSpec(BaseModel):
    """One parameter, output or state field (Tactus field schema plus Plexus UI hints)."""

    model_config = ConfigDict(extra="forbid")

    type: FieldType = "string"
    required: bool = False
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    input: str | None = None  # Plexus UI hint: "textarea" | "hidden"
    rows: int | None = None  # Plexus UI hint for textareas
    value: Any = None  # Plexus bakes chosen values into the YAML as `value`


class Procedure(BaseModel):
    """Everything the engine, the CLI and the bot need to know about a procedure file."""

    procedure_id: str = Field(description="file name without extension; how people address it")
    name: str
    version: str | None = None
    description: str | None = None
    format: ProcedureFormat
    source_path: str
    params: dict[str, FieldSpec] = Field(default_factory=dict)
    outputs: dict[str, FieldSpec] = Field(default_factory=dict)
    state: dict[str, FieldSpec] = Field(default_factory=dict)
    hitl: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="declarations by name; `config_key` merges one under a call's options",
    )
    stages: list[str] = Field(default_factory=list)
    code: str
    code_line_offset: int = Field(
        default=0, description="lines before `code` in the file, to map Lua lines to file lines"
    )
    warnings: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(
        default_factory=dict, description="other top-level keys (approvers, channel, ...)"
    )

    @property
    def source_hash(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()[:16]
