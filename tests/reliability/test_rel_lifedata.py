"""Life-data CSV files: both outcome columns, stress levels, and errors naming file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.reliability import read_life_data, read_life_levels
from instruments.yamlconfig import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "life.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_failed_column(tmp_path: Path) -> None:
    data = read_life_data(write(tmp_path, "unit,hours,failed\nM1,120.5,1\nM2,500,0\nM3,300,true\n"))
    assert data.units == ("M1", "M2", "M3")
    assert list(data.hours) == [120.5, 500.0, 300.0]
    assert list(data.failed) == [True, False, True]


def test_status_column_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "life.csv"
    path.write_bytes("\ufeffunit,hours,status\nA,10,failed\nB,20,Suspended\nC,30,running\n".encode())
    data = read_life_data(path)
    assert list(data.failed) == [True, False, False]


def test_levels(tmp_path: Path) -> None:
    path = write(tmp_path, "unit,hours,failed,level\nA,10,1,85C\nB,20,0,85C\nA,30,1,70C\nB,40,1,70C\n")
    levels = read_life_levels(path)
    assert list(levels) == ["85C", "70C"]
    assert list(levels["70C"].hours) == [30.0, 40.0]
    assert list(read_life_data(path, level="85C").failed) == [True, False]
    with pytest.raises(ConfigError, match="2 stress levels"):
        read_life_data(path)


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("unit,hours,failed\nA,10,1\nB,-5,0\n", 3, "hours", "negative hours"),
        ("unit,hours,failed\nA,0,1\n", 2, "hours", "0 hours"),
        ("unit,hours,failed\nA,ten,1\n", 2, "hours", "valid number"),
        ("unit,hours,failed\nA,10,2\n", 2, "failed", "valid boolean"),
        ("unit,hours,status\nA,10,broken\n", 2, "status", "unknown status"),
        ("unit,hours\nA,10\n", 2, "status", "'failed' (0/1) or a 'status'"),
        ("unit,hours,failed,status\nA,10,1,failed\n", 2, "status", "not both"),
        ("unit,hours,faild\nA,10,1\n", 1, "faild", "unknown column"),
        ("unit,hours,failed\nA,10,1\nA,20,0\n", 3, "unit", "already on line 2"),
        ("unit,hours,failed\n", 1, "", "no data rows"),
        ("unit,hours,failed\nA,10,1,extra\n", 2, "", "4 cells, header has 3"),
    ],
)
def test_errors_name_file_line_field(tmp_path: Path, text: str, line: int, field: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        read_life_data(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert message in err.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        read_life_data(tmp_path / "nope.csv")
