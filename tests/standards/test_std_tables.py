"""Limit tables as data: the built-in files, lab overrides with provenance, bad files with file/line/field errors."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from hil.standards import StandardsLibrary, default_library, limit_for, load_table_file
from hil.standards.model import AccuracyTable
from instruments.yamlconfig import ConfigError
from tests.standards.ratings import make_rating

TABLE_2020 = "limits of error due to variation of the current"
HEADER_2020 = f"standard: IEC 62053-21\nedition: '2020'\ntable: {TABLE_2020}\nkind: accuracy\nbasis: Itr\n"


def write(tmp_path: Path, text: str, name: str = "lab.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (computed from the test's own text)."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_every_data_file_is_a_table() -> None:
    files = [e.name for e in (importlib.resources.files("hil.standards") / "data").iterdir()
             if e.name.endswith(".yaml")]
    lib = StandardsLibrary.load()
    assert len(lib.tables) == len(files) >= 14
    for t in lib.tables:
        assert t.table.standard and t.table.edition and t.table.table
        assert all(src.startswith("built-in hil/standards/data/") for src in t.sources.values())
        assert {r.status for r in t.table.rows} <= {"confirmed", "derived", "unconfirmed"}


def test_library_covers_the_standards() -> None:
    std = default_library().standards()
    assert std[("IEC 62053-21", "2003")] == ("1", "2")
    assert std[("IEC 62053-21", "2020")] == ("0.5", "1", "2")
    assert std[("IEC 62053-22", "2003")] == ("0.2S", "0.5S")
    assert std[("EN 50470-3", "2022")] == ("A", "B", "C")
    assert std[("ANSI C12.20", "2015")] == ("0.1", "0.2", "0.5")
    assert std[("IEC 62053-23", "2003")] == ("2", "3")


def test_mid_table_has_the_four_temperature_bands() -> None:
    (mid,) = default_library().accuracy_tables("EN 50470-3", "2022")
    assert isinstance(mid.table, AccuracyTable)
    assert [b.ranges_c for b in mid.table.temperature_bands] == [
        [(5, 30)], [(-10, 5), (30, 40)], [(-25, -10), (40, 55)], [(-40, -25), (55, 70)]
    ]


def test_override_changes_one_row_and_shows_its_source(tmp_path: Path) -> None:
    p = write(tmp_path, HEADER_2020 + "rows:\n"
              "  - {id: cl1.bal.pf1.low, class_index: '1', current: '[Imin, Itr)', pf: [1], limit_pct: 1.4,"
              " status: confirmed, note: checked against our copy}\n")
    lib = StandardsLibrary.load([p])
    meter = make_rating()
    lim = limit_for(meter, 0.3, "1", library=lib)
    assert lim.limit_pct == 1.4
    assert lim.provenance.source == f"lab override file {p}"
    assert (lim.provenance.status, lim.provenance.note) == ("confirmed", "checked against our copy")
    # the other rows keep their built-in values and sources
    other = limit_for(meter, 5.0, "1", library=lib)
    assert other.limit_pct == 1.0 and other.provenance.source.startswith("built-in")
    # the default library is untouched
    assert limit_for(meter, 0.3, "1").limit_pct == 1.5
    (report,) = lib.overrides
    assert (report.replaced, report.added, report.new_table) == (("cl1.bal.pf1.low",), (), False)


def test_override_by_directory_and_new_table(tmp_path: Path) -> None:
    write(tmp_path, "standard: IEC 62053-21\nedition: '2020'\ntable: lab extra limits\nkind: accuracy\n"
                    "basis: Itr\nrows:\n  - {id: x, class_index: '1', current: 'Iref', pf: [0.25L], limit_pct: 3.5,"
                    " status: unconfirmed}\n")
    lib = StandardsLibrary.load([tmp_path])
    assert lib.overrides[0].new_table
    assert limit_for(make_rating(), 5.0, "0.25L", library=lib).limit_pct == 3.5


def test_override_replaces_test_points(tmp_path: Path) -> None:
    from hil.standards import generate_load_points

    p = write(tmp_path, HEADER_2020 + "test_points:\n  - {load: balanced, currents: [Itr, Imax], pf: [1]}\n"
              "rows: []\n")
    lib = StandardsLibrary.load([p])
    m = generate_load_points(make_rating(), library=lib, single_element=False)
    assert [p.current_a for p in m] == [0.5, 60.0]


def test_override_must_keep_the_kind(tmp_path: Path) -> None:
    p = write(tmp_path, f"standard: IEC 62053-21\nedition: '2020'\ntable: {TABLE_2020}\nkind: conditions\nrows: []\n")
    with pytest.raises(ConfigError, match="must have kind 'accuracy'"):
        StandardsLibrary.load([p])


GOOD_ROW = "  - {id: a, class_index: '1', current: '[Itr, Imax]', pf: [1], limit_pct: 1.0, status: derived}\n"


@pytest.mark.parametrize(
    ("bad_row", "field"),
    [
        ("  - {id: b, class_index: '1', current: '[Itr, Imax]', pf: [1], limt_pct: 1.0, status: derived}\n",
         "rows[1].limt_pct"),  # unknown field
        ("  - {id: b, class_index: '1', current: '[Itr, Imax]', pf: [1], limit_pct: abc, status: derived}\n",
         "rows[1].limit_pct"),  # wrong type
        ("  - {id: b, class_index: '1', current: '[Itr, Imax]', pf: [1], limit_pct: 1.0, status: sure}\n",
         "rows[1].status"),  # not a status
        ("  - {id: b, class_index: '1', current: '[Itx, Imax]', pf: [1], limit_pct: 1.0, status: derived}\n",
         "rows[1].current"),  # unknown current
        ("  - {id: b, class_index: '1', current: '[Itr, Imax]', pf: [0.5], limit_pct: 1.0, status: derived}\n",
         "rows[1].pf[0]"),  # PF without its sense
        ("  - {id: a, class_index: '1', current: '[Itr, Imax]', pf: [1], limit_pct: 1.0, status: derived}\n",
         "rows[1].id"),  # duplicate id
        ("  - {id: b, class_index: '1', current: '[Itr, Imax]', pf: [1], limit_pct: 1.0, status: derived,"
         " temperature_band: T9}\n", "rows[1].temperature_band"),
    ],
)
def test_bad_row_names_file_line_field(tmp_path: Path, bad_row: str, field: str) -> None:
    text = HEADER_2020 + "rows:\n" + GOOD_ROW + bad_row
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_table_file(p)
    assert (ei.value.file, ei.value.field) == (str(p), field)
    assert ei.value.line == len(text.splitlines())  # the bad row is the file's last line
    assert str(ei.value).startswith(f"{p}:{ei.value.line}: {field}")
    with pytest.raises(ConfigError):  # the same through the library loader
        StandardsLibrary.load([p])


def test_unknown_kind(tmp_path: Path) -> None:
    text = "standard: X\nedition: '1'\ntable: t\nkind: limits\nrows: []\n"
    with pytest.raises(ConfigError) as ei:
        load_table_file(write(tmp_path, text))
    assert (ei.value.field, ei.value.line) == ("kind", 4)


def test_unknown_table_field(tmp_path: Path) -> None:
    text = HEADER_2020 + "edtion: 2020\nrows: []\n"
    with pytest.raises(ConfigError) as ei:
        load_table_file(write(tmp_path, text))
    assert (ei.value.field, ei.value.line) == ("edtion", line_of(text, "edtion"))


def test_conditions_row_needs_the_right_value(tmp_path: Path) -> None:
    text = ("standard: IEC 62053-21\nedition: '2020'\ntable: t\nkind: conditions\nrows:\n"
            "  - {id: ok, parameter: no_load_max_pulses, value: 1, status: confirmed}\n"
            "  - {id: bad, parameter: ist, value: 0.02, status: confirmed}\n")
    with pytest.raises(ConfigError) as ei:
        load_table_file(write(tmp_path, text))
    assert (ei.value.field, ei.value.line) == ("rows[1]", 7)
    assert "takes 'current'" in ei.value.message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_table_file(write(tmp_path, HEADER_2020 + "rows:\n  - {id: a, pf: [1}\n"))
    assert ei.value.line == 7
