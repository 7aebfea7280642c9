"""Reading procedure files (Plexus YAML, legacy Tactus YAML, Tactus `.tac`) into `Procedure`s.

Loading happens in two steps so that `hitlbot validate` can report every problem at once while
`load_procedure` stops at the first: `read_procedure` turns a file into a `RawProcedure` (plain
data as written, with file lines) and fails only when the file cannot be understood at all;
`check_declarations` then judges the field declarations. Every error names the file, the line
and the field, because the person reading it has the file open, not our data structures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import ValidationError

from runtime.declarations import Declared, declaration_pass
from runtime.errors import LimitExceeded, ProcedureLoadError, SandboxError
from runtime.procedure import FieldSpec, Procedure, ProcedureFormat
from runtime.sandbox import Sandbox
from runtime.schema import parse_field

TAC_SUFFIXES = (".tac", ".lua")
CATALOG_SUFFIXES = (".yaml", ".yml", *TAC_SUFFIXES)
MAX_FILE_BYTES = 1024 * 1024  # procedures are glue code; anything bigger is a mistake
MAX_YAML_VALUES = 100_000
FIELD_SECTIONS = ("params", "outputs", "state")

# Top-level YAML keys with a meaning; everything else is kept in `Procedure.config`.
_YAML_KEYS = frozenset(
    {"name", "version", "class", "code", "procedure", "description", "params", "outputs"}
    | {"hitl", "stages", "agents", "workflow"}
)
# Keys of a `.tac` Procedure table with a meaning; the others go to `config` like YAML's.
_TAC_KEYS = frozenset({"input", "output", "state", "description", "version", "run"})

_LUA_POSITION = re.compile(r"^[^:\s]*:(\d+):\s*")
_LUA_AT_LINE = re.compile(r"\bat line (\d+)")
_LUA_COMMENT = re.compile(r"--\[(=*)\[.*?\]\1\]|--[^\n]*", re.S)
_DECLARES_ENTRY = re.compile(r"\bProcedure\s*[{(\"'\[]|\bprocedure\s*\(|\bfunction\s+main\s*\(")


@dataclass(frozen=True)
class LoadWarning:
    """Something the file does that hitlbot ignores; `symbol` is a Lua name the linter can find."""

    message: str
    line: int | None = None
    symbol: str | None = None


@dataclass
class RawProcedure:
    """A procedure file as written: declarations not yet validated, with their file lines."""

    procedure_id: str
    name: str
    format: ProcedureFormat
    source_path: str
    code: str
    code_line_offset: int = 0
    version: str | None = None
    description: str | None = None
    params: Any = field(default_factory=dict)
    outputs: Any = field(default_factory=dict)
    state: Any = field(default_factory=dict)
    hitl: dict[str, Any] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    warnings: list[LoadWarning] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # "params.env" -> file line
    stopped_at: str | None = None  # .tac: the primitive where the declaration pass stopped
    stop_line: int | None = None


@dataclass(frozen=True)
class DeclarationIssue:
    severity: Literal["error", "warning"]
    field: str  # "params.env", "hitl.confirm"
    message: str
    line: int | None = None


class Catalog(NamedTuple):
    """Every procedure of a directory, and the files that did not load (one does not hide all)."""

    procedures: dict[str, Procedure]
    errors: list[ProcedureLoadError]


# -- public API --------------------------------------------------------------------------------


def load_procedure(path: str | Path, text: str | None = None) -> Procedure:
    """Load and validate one procedure file; `ProcedureLoadError` names the file, line and field.

    With `text`, that is the file's content (a procedure kept elsewhere than in a file, such as
    in Plexus): `path` then only names it (its format, its procedure id, its errors).
    """
    raw = read_procedure(path, text)
    specs, issues = _check(raw)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        first = errors[0]
        same = [e.message for e in errors if e.field == first.field]
        more = len(errors) - len(same)
        message = "; ".join(same)
        if more:
            message += f" (and {more} more problem{'s' * (more > 1)}: run `hitlbot validate`)"
        raise ProcedureLoadError(raw.source_path, message, line=first.line, field=first.field)
    warnings = [w.message for w in raw.warnings]
    warnings += [f"{i.field}: {i.message}" for i in issues]
    try:
        return _procedure(raw, specs, warnings)
    except ValidationError as exc:  # shapes the checks above do not cover (e.g. odd YAML keys)
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ProcedureLoadError(raw.source_path, problem["msg"], field=where) from None


def _procedure(
    raw: RawProcedure, specs: dict[str, dict[str, FieldSpec]], warnings: list[str]
) -> Procedure:
    return Procedure(
        procedure_id=raw.procedure_id,
        name=raw.name,
        version=raw.version,
        description=raw.description,
        format=raw.format,
        source_path=raw.source_path,
        params=specs["params"],
        outputs=specs["outputs"],
        state=specs["state"],
        hitl=raw.hitl,
        stages=raw.stages,
        code=raw.code,
        code_line_offset=raw.code_line_offset,
        warnings=warnings,
        config=raw.config,
    )


def load_catalog(directory: str | Path, load: Callable[[str], Procedure] | None = None) -> Catalog:
    """Load every procedure file of a directory (not recursive), keyed by procedure id.

    `load` reads one file (by default `load_procedure`, here; a host that loads other
    people's files passes one that reads them in a worker process).
    """
    load = load or load_procedure
    root = Path(directory)
    if not root.is_dir():
        problem = "is not a directory" if root.exists() else "no such directory"
        raise ProcedureLoadError(str(directory), problem)
    procedures: dict[str, Procedure] = {}
    errors: list[ProcedureLoadError] = []
    for path in sorted(root.iterdir()):
        if path.suffix.lower() not in CATALOG_SUFFIXES or path.name.startswith("."):
            continue
        if not path.is_file():
            continue
        taken = procedures.get(path.stem)
        if taken is not None:
            other = Path(taken.source_path).name
            errors.append(
                ProcedureLoadError(
                    str(path), f"procedure id {path.stem!r} is already used by {other}; rename one"
                )
            )
            continue
        try:
            procedures[path.stem] = load(str(path))
        except ProcedureLoadError as exc:
            errors.append(exc)
    return Catalog(procedures, errors)


def read_procedure(path: str | Path, text: str | None = None) -> RawProcedure:
    """Read a file into a `RawProcedure`; field declarations are judged by `check_declarations`.
    `text` stands for the file's content when given (see `load_procedure`)."""
    path = Path(path)
    if text is None:
        text = _read_text(path)
    elif len(text.encode()) > MAX_FILE_BYTES:
        raise ProcedureLoadError(str(path), f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
    if path.suffix.lower() in TAC_SUFFIXES:
        return _read_tac(path, text)
    return _read_yaml(path, text)


def check_declarations(raw: RawProcedure) -> list[DeclarationIssue]:
    """Every problem with the parameter, output, state and hitl declarations, in file order."""
    return _check(raw)[1]


# -- files -------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    where = str(path)
    try:
        if path.is_dir():
            raise ProcedureLoadError(where, "is a directory, not a procedure file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProcedureLoadError(where, f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProcedureLoadError(where, "no such file") from None
    except PermissionError:
        raise ProcedureLoadError(where, "cannot read the file (permission denied)") from None
    except OSError as exc:
        raise ProcedureLoadError(where, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProcedureLoadError(where, "not UTF-8 text (a binary file?)", line=line) from None
    if not text.strip():
        raise ProcedureLoadError(where, "file is empty")
    return text


# -- YAML --------------------------------------------------------------------------------------


def _read_yaml(path: Path, text: str) -> RawProcedure:
    where = str(path)
    node, data = _parse_yaml(where, text)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ProcedureLoadError(
            where,
            "expected YAML keys (name, version, class, code, ...) at the top level, "
            f"got {_yaml_kind(data)}",
            line=1,
        )
    lines = _key_lines(node)

    def fail(key: str, message: str) -> ProcedureLoadError:
        return ProcedureLoadError(where, message, line=lines.get(key), field=key)

    fmt, code_key = _yaml_format(data, fail)
    name = data.get("name")
    if name is None:
        raise fail("name", "required key is missing")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "must be a non-empty string")
    version = data.get("version")
    if version is None:
        raise fail("version", "required key is missing")
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        raise fail("version", f"must be a version string like 1.0.0, got {_yaml_kind(version)}")
    version = _scalar_text(node, "version")  # as written: YAML reads 1.10 as the number 1.1
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise fail("description", "must be a string")

    code = data.get(code_key)
    if code is None:
        raise fail(code_key, "required key is missing (the procedure's Lua)")
    if not isinstance(code, str) or not code.strip():
        raise fail(code_key, "must be a non-empty string of Lua")
    offset = _code_offset(node, code_key)
    _check_syntax(where, code, offset, code_key, _line_count(text))

    warnings = []
    if data.get("agents"):
        agents = data["agents"]
        names = ", ".join(map(str, agents)) if isinstance(agents, dict | list) else str(agents)
        warnings.append(
            LoadWarning(
                f"LLM agents are not supported; agents {names} are ignored",
                line=lines.get("agents"),
            )
        )
    hitl = data.get("hitl") or {}
    if not isinstance(hitl, dict):
        raise fail("hitl", f"must be a mapping of declarations by name, got {_yaml_kind(hitl)}")
    return RawProcedure(
        procedure_id=path.stem,
        name=name.strip(),
        format=fmt,
        source_path=where,
        code=code,
        code_line_offset=offset,
        version=version,
        description=description,
        params=_or_empty(data.get("params")),
        outputs=_or_empty(data.get("outputs")),
        hitl={str(k): v for k, v in hitl.items()},
        stages=_yaml_stages(data.get("stages"), fail),
        config={str(k): v for k, v in data.items() if k not in _YAML_KEYS},
        warnings=warnings,
        lines=lines,
    )


def _parse_yaml(where: str, text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once, keeping both the node tree (for line numbers) and the plain data."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node) > MAX_YAML_VALUES:
            raise ProcedureLoadError(
                where,
                f"the YAML expands to more than {MAX_YAML_VALUES:,} values (aliases of "
                "aliases?); procedures are not that big",
            )
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ProcedureLoadError(where, message, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ProcedureLoadError(where, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return node, data


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is expanded (an alias is a
    reference, so a few lines of `&a [*b, *b, *b, *b]` describe billions of values, which
    whatever later copies or serialises the data would build). Stops counting past the limit.
    """
    count, stack = 0, [root]
    while stack and count <= MAX_YAML_VALUES:
        node = stack.pop()
        count += 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += (key, value)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return count


def _yaml_format(data: dict[str, Any], fail: Any) -> tuple[ProcedureFormat, str]:
    """Plexus (`class: Tactus` + `code:`) or legacy Tactus (`procedure:`); anything else fails."""
    if "workflow" in data:
        raise fail(
            "workflow",
            "workflow procedures (Plexus's older format) are not supported; "
            "write the steps as Lua under code: with class: Tactus",
        )
    cls = data.get("class")
    if cls == "LuaDSL":
        raise fail(
            "class", "LuaDSL procedures are not supported; use class: Tactus with a code: block"
        )
    if cls is not None and cls != "Tactus":
        raise fail("class", f"expected Tactus, got {cls!r}")
    if cls == "Tactus":
        if "code" not in data and "procedure" in data:
            raise fail("procedure", "class: Tactus procedures keep their Lua under code:")
        if "code" in data and "procedure" in data:
            raise fail("procedure", "give the Lua once, under code:")
        return ProcedureFormat.PLEXUS_YAML, "code"
    if "procedure" in data:
        return ProcedureFormat.TACTUS_YAML, "procedure"
    if "code" in data:
        raise fail("code", "a Plexus procedure needs class: Tactus next to code:")
    raise fail(
        "code",
        "no Lua found: expected code: (Plexus, with class: Tactus) or procedure: (Tactus YAML)",
    )


def _key_lines(root: yaml.MappingNode) -> dict[str, int]:
    """File line (1-based) of every top-level key and of the keys one level below."""
    lines: dict[str, int] = {}
    for key_node, value_node in root.value:
        key = str(key_node.value)
        lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            for sub_key, _ in value_node.value:
                lines[f"{key}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


def _code_offset(root: yaml.MappingNode, key: str) -> int:
    """Lines before the Lua's first line: a block scalar (`|`) starts on the next line."""
    for key_node, value_node in root.value:
        if key_node.value == key:
            block = isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">")
            return value_node.start_mark.line + (1 if block else 0)
    return 0


def _scalar_text(root: yaml.MappingNode, key: str) -> str:
    """The source text of a scalar value (the last one, as YAML keeps the last duplicate)."""
    texts = [
        str(value_node.value)
        for key_node, value_node in root.value
        if key_node.value == key and isinstance(value_node, yaml.ScalarNode)
    ]
    return texts[-1]


def _yaml_stages(value: Any, fail: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    raise fail("stages", "must be a list of stage names")


def _or_empty(value: Any) -> Any:
    return {} if value is None else value


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "nothing"
    kinds = {str: "text", list: "a list", dict: "a mapping", bool: "a boolean"}
    return kinds.get(type(value), f"a {type(value).__name__}")


# -- Lua ---------------------------------------------------------------------------------------


def _check_syntax(
    where: str, code: str, offset: int, field_name: str | None, last_line: int
) -> None:
    try:
        Sandbox().compile(code, "procedure")
    except SandboxError as exc:
        raise _lua_error(where, "Lua syntax error", exc, offset, field_name, last_line) from None


def _lua_error(
    where: str,
    what: str,
    exc: SandboxError,
    offset: int,
    field_name: str | None,
    last_line: int,
) -> ProcedureLoadError:
    """A Lua error as a load error at the file line (Lua counts lines from the chunk's start).

    Lua places `<eof>` one line past a final newline; the file has no such line.
    """
    detail = _LUA_POSITION.sub("", str(exc), count=1)
    detail = _LUA_AT_LINE.sub(lambda m: f"at line {int(m.group(1)) + offset}", detail)
    line = min(exc.line + offset, last_line) if exc.line is not None else None
    return ProcedureLoadError(where, f"{what}: {detail}", line=line, field=field_name)


def _line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def _read_tac(path: Path, text: str) -> RawProcedure:
    where = str(path)
    last_line = _line_count(text)
    _check_syntax(where, text, 0, None, last_line)
    try:
        declared = declaration_pass(text)
    except LimitExceeded as exc:
        raise ProcedureLoadError(
            where,
            f"top-level code hit the {exc.kind} limit while hitlbot read the declarations; "
            "keep work inside the procedure",
        ) from None
    except SandboxError as exc:
        raise _lua_error(where, "invalid declarations", exc, 0, None, last_line) from None
    _check_pass(where, text, declared)

    config = declared.config
    specs = {
        "params": config.get("input", declared.input),
        "outputs": config.get("output", declared.output),
        "state": config.get("state"),
    }
    description = config.get("description")
    version = config.get("version")
    code_only = _LUA_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    lines = _tac_lines(code_only, specs, declared.hitl)
    return RawProcedure(
        procedure_id=path.stem,
        name=path.stem,
        format=ProcedureFormat.TAC,
        source_path=where,
        code=text,
        version=str(version) if isinstance(version, str | int | float) else None,
        description=description if isinstance(description, str) else _leading_comment(text),
        params=_in_file_order(_or_empty(specs["params"]), "params", lines),
        outputs=_in_file_order(_or_empty(specs["outputs"]), "outputs", lines),
        state=_in_file_order(_or_empty(specs["state"]), "state", lines),
        hitl=_in_file_order(declared.hitl, "hitl", lines),
        stages=[str(s) for s in declared.stages],
        config={k: v for k, v in config.items() if k not in _TAC_KEYS and isinstance(k, str)},
        warnings=[LoadWarning(m, symbol=s) for s, m in declared.unsupported],
        lines=lines,
        stopped_at=declared.stopped_at,
        stop_line=declared.stop_line,
    )


def _check_pass(where: str, text: str, declared: Declared) -> None:
    """Decide which outcomes of the declaration pass make the file unloadable.

    In script mode (no procedure declared anywhere in the text) the top-level code is the body:
    it may fail or stop without real inputs, and that is fine. Otherwise the top level holds
    declarations only, and a failure there would fail every run.
    """
    declares_entry = declared.entry is not None or _DECLARES_ENTRY.search(
        _LUA_COMMENT.sub("", text)
    )
    if declared.error is not None and declares_entry:
        raise _lua_error(
            where, "error while reading declarations", declared.error, 0, None, _line_count(text)
        )
    if declared.entry is None and declared.stopped_at and declares_entry:
        raise ProcedureLoadError(
            where,
            f"{declared.stopped_at} is used at the top level before the procedure is declared; "
            "declarations are read up to the first primitive call, so move it into the procedure",
            line=declared.stop_line,
        )
    if declared.entry_error:
        raise ProcedureLoadError(where, declared.entry_error)


def _tac_lines(code: str, specs: dict[str, Any], hitl: dict[str, Any]) -> dict[str, int]:
    """Best-effort file lines of `.tac` declarations (a name followed by `= field.`/`= {`)."""
    lines: dict[str, int] = {}
    for section, fields in specs.items():
        for name in fields if isinstance(fields, dict) else ():
            found = re.search(rf"\b{re.escape(str(name))}\s*=\s*(?:field\b|\{{)", code)
            if found:
                lines[f"{section}.{name}"] = code.count("\n", 0, found.start()) + 1
    for name in hitl:
        found = re.search(rf"\b[Hh]itl\s*\(?\s*[\"']{re.escape(name)}[\"']", code)
        if found:
            lines[f"hitl.{name}"] = code.count("\n", 0, found.start()) + 1
    return lines


def _in_file_order(fields: Any, section: str, lines: dict[str, int]) -> Any:
    """Lua tables forget the order fields were written in; forms should not. Restore it."""
    if not isinstance(fields, dict):
        return fields
    unknown = 1 << 30
    ordered = sorted(
        fields.items(), key=lambda kv: (lines.get(f"{section}.{kv[0]}", unknown), kv[0])
    )
    return dict(ordered)


def _leading_comment(text: str) -> str | None:
    """The first paragraph of `--` comments at the top of a file: a `.tac` file's description."""
    words: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#!") and not words:
            continue
        if not stripped.startswith("--") or stripped.startswith("--["):
            break
        body = stripped.lstrip("-").strip()
        if not body:
            if words:
                break
            continue
        words.append(body)
    return " ".join(words)[:300] or None


# -- declarations ------------------------------------------------------------------------------


def _check(raw: RawProcedure) -> tuple[dict[str, dict[str, FieldSpec]], list[DeclarationIssue]]:
    """Parse every field declaration; the specs that parsed and every issue found."""
    drop = raw.format is ProcedureFormat.TAC
    specs: dict[str, dict[str, FieldSpec]] = {}
    issues: list[DeclarationIssue] = []
    for section in FIELD_SECTIONS:
        declared = getattr(raw, section)
        specs[section] = {}
        if declared in ({}, []):
            continue
        if not isinstance(declared, dict):
            issues.append(
                DeclarationIssue(
                    "error", section, "must be a table of fields by name", raw.lines.get(section)
                )
            )
            continue
        for name, spec in declared.items():
            key = f"{section}.{name}"
            line = raw.lines.get(key, raw.lines.get(section))
            checked = parse_field(spec, drop_default_when_required=drop)
            issues += [DeclarationIssue("error", key, m, line) for m in checked.errors]
            issues += [DeclarationIssue("warning", key, m, line) for m in checked.warnings]
            if checked.spec is not None:
                specs[section][str(name)] = checked.spec
    for name, options in raw.hitl.items():
        if not isinstance(options, dict):
            line = raw.lines.get(f"hitl.{name}")
            issues.append(
                DeclarationIssue("error", f"hitl.{name}", "must be a table of options", line)
            )
    issues.sort(key=lambda i: i.line or 0)
    return specs, issues
