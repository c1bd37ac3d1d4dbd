"""Loading limit tables: the built-in files under ``hil/standards/data`` and a lab's override files.

An override file has the same schema as a built-in table. It is merged by (standard, edition, table): a row with
the id of a built-in row replaces it, a new id adds a row, and ``test_points`` / ``temperature_bands`` /
``influences`` given in the override replace the built-in ones. A table that matches no built-in table is added.
Every row remembers the file it came from, so a report shows ``lab override file …`` next to the number.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hil.standards.model import (
    TABLE_MODELS,
    AccuracyRow,
    AccuracyTable,
    AnyTable,
    ConditionsRow,
    ConditionsTable,
    InfluenceRow,
    InfluenceTable,
    Provenance,
)
from instruments.yamlconfig import ConfigError, parse_yaml_text, validate_data

BUILTIN = "built-in"
OVERRIDE = "lab override file"


class StandardsError(ValueError):
    """A question the standards library cannot answer (unknown standard, no limit, bad rating …)."""


def _norm(text: str) -> str:
    """Merge/lookup key: case- and whitespace-insensitive (``IEC 62053-21`` ≡ ``iec62053-21``)."""
    return "".join(text.split()).upper()


@dataclass(frozen=True)
class SourcedTable:
    """A validated table with the file each row was read from (row id → source)."""

    table: AnyTable
    sources: dict[str, str] = field(default_factory=dict)
    #: the files the table was assembled from, in merge order
    files: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return _norm(self.table.standard), _norm(self.table.edition), _norm(self.table.table)

    def provenance(self, row: AccuracyRow | ConditionsRow | InfluenceRow) -> Provenance:
        t = self.table
        return Provenance(
            standard=t.standard, edition=t.edition, table=t.table, row=row.id, status=row.status,
            source=self.sources.get(row.id, ""), note=row.note,
        )


def _row_line(node: yaml.Node | None, index: int) -> int | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            is_rows = isinstance(key, yaml.ScalarNode) and key.value == "rows"
            if is_rows and isinstance(value, yaml.SequenceNode) and index < len(value.value):
                return int(value.value[index].start_mark.line) + 1
    return None


def _check_rows(table: AnyTable, node: yaml.Node | None, filename: str) -> None:
    """Cross-row checks the row models cannot do; errors point at the row's line."""
    seen: set[str] = set()
    bands = {b.id for b in table.temperature_bands} if isinstance(table, AccuracyTable) else set()
    influences = set(table.influences) if isinstance(table, InfluenceTable) else set()
    for i, row in enumerate(table.rows):
        where = f"rows[{i}]"
        if row.id in seen:
            raise ConfigError(filename, _row_line(node, i), f"{where}.id", f"duplicate row id {row.id!r}")
        seen.add(row.id)
        if isinstance(row, AccuracyRow) and row.temperature_band is not None and row.temperature_band not in bands:
            raise ConfigError(
                filename, _row_line(node, i), f"{where}.temperature_band",
                f"unknown temperature band {row.temperature_band!r}; the table defines {sorted(bands)}",
            )
        if isinstance(row, InfluenceRow) and row.influence not in influences:
            raise ConfigError(
                filename, _row_line(node, i), f"{where}.influence",
                f"unknown influence {row.influence!r}; the table defines {sorted(influences)}",
            )


def parse_table(text: str, filename: str) -> AnyTable:
    """Validate one table file's text; errors are :class:`ConfigError` naming file, line and field."""
    data, node = parse_yaml_text(text, filename)
    if not isinstance(data, dict):
        raise ConfigError(filename, 1, "", "a limit table is a mapping with standard, edition, table, kind, rows")
    kind = data.get("kind")
    model = TABLE_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        line = None
        if isinstance(node, yaml.MappingNode):
            line = next((int(k.start_mark.line) + 1 for k, _ in node.value if getattr(k, "value", None) == "kind"), 1)
        raise ConfigError(filename, line, "kind", f"kind must be one of {sorted(TABLE_MODELS)}, got {kind!r}")
    table: AnyTable = validate_data(data, model, filename, node)
    _check_rows(table, node, filename)
    return table


def load_table_file(path: str | Path, source: str | None = None) -> SourcedTable:
    """Read one table file; ``source`` labels its rows (default: ``lab override file <path>``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), None, "", f"cannot read file: {exc.strerror or exc}") from exc
    table = parse_table(text, str(p))
    label = source if source is not None else f"{OVERRIDE} {p}"
    return SourcedTable(table, {r.id: label for r in table.rows}, (str(p),))


def _merge(base: SourcedTable, over: SourcedTable) -> SourcedTable:
    """Apply an override table to a built-in one (same standard, edition and table)."""
    b, o = base.table, over.table
    if type(b) is not type(o):
        raise ConfigError(
            over.files[-1], None, "kind", f"override of {b.standard}:{b.edition} {b.table!r} must have kind {b.kind!r}"
        )
    rows: dict[str, Any] = {r.id: r for r in b.rows}
    sources = dict(base.sources)
    for r in o.rows:
        rows[r.id] = r  # same id replaces in place (dict keeps the original order), a new id appends
        sources[r.id] = over.sources[r.id]
    update: dict[str, Any] = {"rows": list(rows.values())}
    if isinstance(b, AccuracyTable) and isinstance(o, AccuracyTable):
        if o.test_points:
            update["test_points"] = o.test_points
        if o.temperature_bands:
            update["temperature_bands"] = o.temperature_bands
        if o.reference_temperature_c is not None:
            update["reference_temperature_c"] = o.reference_temperature_c
    if isinstance(b, InfluenceTable) and isinstance(o, InfluenceTable):
        update["influences"] = {**b.influences, **o.influences}
    merged = b.model_copy(update=update)
    # re-validate the merged whole: an override row may name a band or influence only the override defines
    merged = type(b).model_validate(merged.model_dump())
    _check_rows(merged, None, over.files[-1])
    return SourcedTable(merged, sources, (*base.files, *over.files))


@dataclass(frozen=True)
class OverrideReport:
    """What an override file did, for the run's metadata: per table, the rows replaced and added."""

    file: str
    table: str
    replaced: tuple[str, ...]
    added: tuple[str, ...]
    new_table: bool


class StandardsLibrary:
    """All limit tables, with lab overrides applied. Immutable; query it through the functions of
    :mod:`hil.standards.points`, :mod:`~hil.standards.timing` and :mod:`~hil.standards.influence`."""

    def __init__(self, tables: Iterable[SourcedTable], overrides: Sequence[OverrideReport] = ()) -> None:
        self.tables: tuple[SourcedTable, ...] = tuple(tables)
        self.overrides: tuple[OverrideReport, ...] = tuple(overrides)

    @classmethod
    def builtin_tables(cls) -> list[SourcedTable]:
        data = importlib.resources.files("hil.standards") / "data"
        out = []
        for entry in sorted(data.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                name = f"hil/standards/data/{entry.name}"
                table = parse_table(entry.read_text(encoding="utf-8"), name)
                out.append(SourcedTable(table, {r.id: f"{BUILTIN} {name}" for r in table.rows}, (name,)))
        return out

    @classmethod
    def load(cls, overrides: Sequence[str | Path] = ()) -> StandardsLibrary:
        """The built-in tables with the given override files (or directories of ``*.yaml``) applied in order."""
        tables: dict[tuple[str, str, str], SourcedTable] = {}
        for t in cls.builtin_tables():
            if t.key in tables:
                raise ConfigError(t.files[0], None, "table", f"table {t.table.table!r} is defined twice")
            tables[t.key] = t
        reports = []
        for path in _expand(overrides):
            over = load_table_file(path)
            base = tables.get(over.key)
            ids = {r.id for r in base.table.rows} if base is not None else set()
            tables[over.key] = _merge(base, over) if base is not None else over
            o = over.table
            reports.append(OverrideReport(
                file=str(path), table=f"{o.standard}:{o.edition} {o.table}",
                replaced=tuple(r.id for r in o.rows if r.id in ids),
                added=tuple(r.id for r in o.rows if r.id not in ids), new_table=base is None,
            ))
        return cls(tables.values(), reports)

    # -- queries -------------------------------------------------------------------------------------------

    def _of(self, standard: str, edition: str) -> list[SourcedTable]:
        key = (_norm(standard), _norm(edition))
        return [t for t in self.tables if t.key[:2] == key]

    def accuracy_tables(self, standard: str, edition: str, energy: str | None = None) -> list[SourcedTable]:
        return [
            t for t in self._of(standard, edition)
            if isinstance(t.table, AccuracyTable) and (energy is None or t.table.energy == energy)
        ]

    def supply(self, standard: str, edition: str) -> str | None:
        """``ac`` or ``dc``: what the standard's meters measure (None: the library has no accuracy table for it)."""
        kinds = {t.table.supply for t in self.accuracy_tables(standard, edition) if isinstance(t.table, AccuracyTable)}
        return kinds.pop() if len(kinds) == 1 else None

    def conditions_tables(self, standard: str, edition: str) -> list[SourcedTable]:
        return [t for t in self._of(standard, edition) if isinstance(t.table, ConditionsTable)]

    def influence_tables(self, standard: str, edition: str) -> list[SourcedTable]:
        return [t for t in self._of(standard, edition) if isinstance(t.table, InfluenceTable)]

    def standards(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """(standard, edition) → class indices, as spelt in the tables."""
        out: dict[tuple[str, str], set[str]] = {}
        for t in self.tables:
            classes = out.setdefault((t.table.standard, t.table.edition), set())
            classes.update(c for r in t.table.rows if (c := r.class_index) is not None)
        return {k: tuple(sorted(v)) for k, v in sorted(out.items())}

    def canonical(self, standard: str, edition: str) -> tuple[str, str]:
        """The spelling of ``standard``/``edition`` in the tables; :class:`StandardsError` if unknown."""
        for std, ed in self.standards():
            if (_norm(std), _norm(ed)) == (_norm(standard), _norm(edition)):
                return std, ed
        known = ", ".join(f"{s}:{e}" for s, e in self.standards())
        raise StandardsError(f"unknown standard/edition {standard}:{edition}; the library has {known}")

    def classes(self, standard: str, edition: str) -> tuple[str, ...]:
        return self.standards()[self.canonical(standard, edition)]

    def condition(
        self, standard: str, edition: str, parameter: str, class_index: str, connection: str
    ) -> tuple[ConditionsRow, Provenance] | None:
        """The row for a test condition: a class-specific row wins over an all-classes row, a row for the
        connection over an ``any`` row. None when no table defines it."""
        found: list[tuple[int, ConditionsRow, SourcedTable]] = []
        for t in self.conditions_tables(standard, edition):
            assert isinstance(t.table, ConditionsTable)
            for r in t.table.rows:
                if r.parameter != parameter or r.class_index not in (None, class_index):
                    continue
                if r.connection in ("any", connection):
                    found.append(((r.class_index is not None) * 2 + (r.connection != "any"), r, t))
        if not found:
            return None
        top = max(f[0] for f in found)
        best = [f for f in found if f[0] == top]
        if len(best) > 1:
            raise StandardsError(
                f"{standard}:{edition}: rows {', '.join(repr(b[1].id) for b in best)} all define {parameter} "
                f"for class {class_index} ({connection})"
            )
        return best[0][1], best[0][2].provenance(best[0][1])


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


@functools.lru_cache(maxsize=1)
def default_library() -> StandardsLibrary:
    """The built-in tables (no overrides), loaded once."""
    return StandardsLibrary.load()
