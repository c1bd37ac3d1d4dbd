"""YAML config loading: errors name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from instruments.yamlconfig import ConfigError, load_yaml_model


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    volts: float = Field(gt=0)


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    items: list[Item]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "doc.yaml"
    p.write_text(text)
    return p


def test_valid_file_loads(tmp_path: Path) -> None:
    doc = load_yaml_model(write(tmp_path, "title: t\nitems:\n  - name: a\n    volts: 230\n"), Doc)
    assert doc.items[0].volts == 230.0


def test_bad_value_names_line_and_field(tmp_path: Path) -> None:
    p = write(tmp_path, "title: t\nitems:\n  - name: a\n    volts: 230\n  - name: b\n    volts: -5\n")
    with pytest.raises(ConfigError) as ei:
        load_yaml_model(p, Doc)
    e = ei.value
    assert (e.file, e.line, e.field) == (str(p), 6, "items[1].volts")
    assert str(e).startswith(f"{p}:6: items[1].volts: ")


def test_unknown_field_is_named(tmp_path: Path) -> None:
    p = write(tmp_path, "title: t\nitems:\n  - name: a\n    volst: 230\n")
    with pytest.raises(ConfigError) as ei:
        load_yaml_model(p, Doc)
    assert ei.value.line == 4
    assert "volst" in ei.value.field


def test_missing_field_points_at_parent(tmp_path: Path) -> None:
    p = write(tmp_path, "title: t\nitems:\n  - name: a\n")
    with pytest.raises(ConfigError) as ei:
        load_yaml_model(p, Doc)
    assert ei.value.field == "items[0].volts"
    assert ei.value.line == 3
    assert "required" in ei.value.message.lower()


def test_syntax_error_has_line(tmp_path: Path) -> None:
    p = write(tmp_path, "title: t\nitems: [\n  - a: 1\n")
    with pytest.raises(ConfigError) as ei:
        load_yaml_model(p, Doc)
    assert ei.value.line is not None and "syntax" in ei.value.message


def test_no_code_execution(tmp_path: Path) -> None:
    p = write(tmp_path, "title: !!python/object/apply:os.system ['echo pwned']\nitems: []\n")
    with pytest.raises(ConfigError):
        load_yaml_model(p, Doc)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        load_yaml_model(tmp_path / "nope.yaml", Doc)
    assert "cannot read" in str(ei.value)


class Hot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["hot"]
    hours: float = Field(gt=0)


class Cold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["cold"]
    hours: float = Field(gt=0)


class Tagged(BaseModel):
    steps: list[Annotated[Hot | Cold, Field(discriminator="kind")]]


def test_union_member_error_names_the_fields_own_line(tmp_path: Path) -> None:
    # pydantic puts the union tag ("cold") into the error location; the line is still the field's
    p = write(tmp_path, "steps:\n  - kind: hot\n    hours: 1\n  - kind: cold\n    # two lines down\n    hours: -2\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml_model(p, Tagged)
    assert exc.value.line == 6
    assert "hours" in str(exc.value)
