"""YAML configuration files validated by pydantic, with errors that name file, line and field.

Used for bench files, simulated-bench files and test plans. Data is read with ``yaml.safe_load`` only;
the node tree from ``yaml.compose`` (same safe loader) is kept solely to map a field path back to the
line it was written on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is invalid. ``str()`` reads ``file:line: field: message``."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def field_name(loc: Sequence[int | str]) -> str:
    """A location as a reader writes it: ``tests[2].currents``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the deepest YAML node reachable along ``loc``."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                continue  # a tag pydantic adds to loc (a union member such as "dry_heat"): skip it
            break  # stop at the last real node
        node = nxt
    return line


def read_text_file(path: Path) -> str:
    """A configuration file's text: a file that cannot be read, is not UTF-8 or holds NUL bytes (a binary file,
    a Latin-1 export) is a :class:`ConfigError` naming it, never a traceback."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(str(path), line, "", f"not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at offset "
                                               f"{exc.start})") from exc
    if "\x00" in text:
        raise ConfigError(str(path), text[: text.index("\x00")].count("\n") + 1, "",
                          "not a UTF-8 text file (NUL byte)")
    return text


def parse_yaml_text(text: str, filename: str) -> tuple[Any, yaml.Node | None]:
    """Safe-load YAML text; syntax errors become :class:`ConfigError` with the line."""
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(filename, line, "", f"YAML syntax error: {exc.problem}") from exc
    except yaml.YAMLError as exc:  # e.g. a ReaderError: characters YAML does not allow
        raise ConfigError(filename, None, "", f"not a YAML text file: {exc}") from exc
    return data, node


def validate_data(data: Any, model: type[M], filename: str, node: yaml.Node | None = None,
                  context: dict[str, Any] | None = None) -> M:
    """Validate already-loaded data; the first error names file, line and field."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        # a misspelt key also makes the real key "missing": report the misspelling, it is the cause
        err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        loc = tuple(err["loc"])
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(filename, _line_of(node, loc), field_name(loc), err["msg"] + extra) from exc


def error_at(path: str | Path, loc: Sequence[int | str], message: str) -> ConfigError:
    """A :class:`ConfigError` for a value that is valid YAML and valid for its model but wrong in context
    (checked after validation, e.g. against a library): names the file, the line of ``loc`` and the field."""
    p = Path(path)
    try:
        node = yaml.compose(p.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        node = None
    return ConfigError(str(p), _line_of(node, loc), field_name(loc), message)


def load_yaml_model(path: str | Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Read ``path`` and validate it as ``model`` (``context``: pydantic's validation context)."""
    p = Path(path)
    text = read_text_file(p)
    data, node = parse_yaml_text(text, str(p))
    if data is None:
        raise ConfigError(str(p), 1, "", "file is empty")
    return validate_data(data, model, str(p), node, context)
