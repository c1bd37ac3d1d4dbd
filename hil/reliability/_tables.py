"""CSV tables validated row by row with pydantic; errors name file, line and column like the YAML loader's.

The YAML side is :func:`instruments.yamlconfig.load_yaml_model`; this module gives CSV files the same
``file:line: field: message`` errors (:class:`~instruments.yamlconfig.ConfigError`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from instruments.yamlconfig import ConfigError

M = TypeVar("M", bound=BaseModel)


def columns_of(model: type[BaseModel]) -> list[str]:
    """The column names a row model accepts (its field names)."""
    return list(model.model_fields)


def read_csv_rows(path: str | Path, model: type[M]) -> list[tuple[int, M]]:
    """Read ``path`` as CSV with a header line; validate every row as ``model``.

    Returns ``(line, row)`` pairs. Empty cells are left out, so the model's defaults apply. An unknown
    column is an error on the header line (a misspelt column would otherwise be silently ignored).
    """
    p = Path(path)
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8-sig")  # -sig: spreadsheet exports often start with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, None, "", f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ConfigError(name, 1, "", "file is empty (a header line naming the columns is needed)")
    reader.fieldnames = header
    known = columns_of(model)
    for col in header:
        if col not in known:
            raise ConfigError(name, 1, col or "(empty column name)", f"unknown column; expected {', '.join(known)}")
    rows: list[tuple[int, M]] = []
    try:
        for record in reader:
            line = reader.line_num
            if None in record:  # more cells than header columns
                raise ConfigError(name, line, "", f"{len(header) + len(record[None])} cells, header has {len(header)}")
            cells = {k: v.strip() for k, v in record.items() if v is not None and v.strip() != ""}
            try:
                rows.append((line, model.model_validate(cells)))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(x) for x in err["loc"]) or "(row)"
                msg = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's ValueError
                raise ConfigError(name, line, field, msg) from exc
    except csv.Error as exc:
        raise ConfigError(name, reader.line_num, "", f"CSV syntax error: {exc}") from exc
    if not rows:
        raise ConfigError(name, 1, "", "no data rows after the header")
    return rows
