"""Simulated-bench file: the packaged default bench, validation with file/line/field errors, overrides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from instruments.yamlconfig import ConfigError


def test_default_bench_is_a_3p4w_class1_bench_with_a_simserv_chamber() -> None:
    cfg = load_sim_bench()
    assert cfg.source.phases == 3
    assert cfg.source.nominal_voltage_v == 230.0
    assert cfg.source.nominal_frequency_hz == 50.0
    assert cfg.chamber is not None and cfg.chamber.dialect == "simserv"
    assert cfg.network.host == "127.0.0.1"
    assert len(cfg.positions) >= 12
    serials = [p.serial for p in cfg.positions]
    assert len(set(serials)) == len(serials)
    assert all(re.fullmatch(r"MHS26\d{8}", s) for s in serials)
    for p in cfg.positions:
        m = cfg.meter(p.position)
        assert m.class_index in ("1", "B")
        assert m.connection == "3P4W"
        assert (m.imin_a, m.itr_a, m.iref, m.imax_a, m.ist_a) == (0.25, 0.5, 5.0, 60.0, 0.02)
        assert m.constant_imp_per_kwh == 1000


def test_default_bench_special_positions() -> None:
    cfg = load_sim_bench()
    assert cfg.meter(10).behaviour.creep_w > 0
    assert cfg.meter(11).behaviour.pulse_output_broken is True
    failure = cfg.meter(12).failure
    assert failure is not None and failure.mode == "dead"
    # overrides change only what they name: position 9 keeps the type's phase-error curve
    assert cfg.meter(9).behaviour.phase_error_curve_arcmin == cfg.meter(1).behaviour.phase_error_curve_arcmin
    assert cfg.meter(9).behaviour.error_curve_pct != cfg.meter(1).behaviour.error_curve_pct


def test_dump_and_reload_round_trips(tmp_path: Path) -> None:
    cfg = load_sim_bench()
    data = cfg.model_dump(mode="json", by_alias=True, exclude_unset=True)
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_sim_bench(path) == cfg


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


def _default_text() -> str:
    data = load_sim_bench().model_dump(mode="json", exclude_unset=True)
    return yaml.safe_dump(data, sort_keys=False)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_malformed_value_names_field_and_line(tmp_path: Path) -> None:
    text = _default_text().replace("phases: 3", "phases: seven", 1)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_sim_bench(path)
    assert ei.value.field.startswith("source.phases")
    assert ei.value.line == _line_of(text, "phases: seven")
    assert str(path) in str(ei.value)


def test_typo_in_a_key_is_an_error_on_its_line(tmp_path: Path) -> None:
    text = _default_text().replace("settling_time_s:", "setling_time_s:", 1)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_sim_bench(path)
    assert ei.value.field == "source.setling_time_s"
    assert ei.value.line == _line_of(text, "setling_time_s")


def test_error_inside_a_meter_type_names_the_nested_field(tmp_path: Path) -> None:
    text = _default_text().replace("constant_imp_per_kwh: 1000", "constant_imp_per_kwh: -1000", 1)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as ei:
        load_sim_bench(path)
    assert ei.value.field.endswith("constant_imp_per_kwh")
    assert ei.value.field.startswith("meter_types.")
    assert ei.value.line == _line_of(text, "constant_imp_per_kwh: -1000")


def _validate(worlds: Any, **kw: Any) -> SimBenchConfig:
    return SimBenchConfig.model_validate(worlds.data(**kw))


def test_currents_must_be_ordered(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="Ist < Imin < Itr < Iref < Imax"):
        _validate(worlds, meter={"imin_a": 0.6})


def test_exactly_one_of_iref_and_ib(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="exactly one of iref_a and ib_a"):
        _validate(worlds, meter={"ib_a": 5.0})
    data = worlds.data()
    mtype = data["meter_types"]["T"]
    mtype["ib_a"] = mtype.pop("iref_a")
    assert SimBenchConfig.model_validate(data).meter(1).iref == 5.0


def test_unknown_class_index_is_rejected(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="unknown class index"):
        _validate(worlds, meter={"class_index": "1.5"})


def test_duplicate_positions_and_serials_are_rejected(worlds: Any) -> None:
    data = worlds.data(positions=2)
    data["positions"][1]["serial"] = data["positions"][0]["serial"]
    with pytest.raises(ValidationError, match="used twice"):
        SimBenchConfig.model_validate(data)
    data = worlds.data(positions=2)
    data["positions"][1]["position"] = 1
    with pytest.raises(ValidationError, match="position number used twice"):
        SimBenchConfig.model_validate(data)


def test_3p4w_meter_needs_a_three_phase_source(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="3-phase source"):
        _validate(worlds, source={"phases": 1})
    single = _validate(worlds, source={"phases": 1}, meter={"connection": "1P2W"})
    assert single.meter(1).connection == "1P2W"


def test_unknown_type_and_inconsistent_override_name_the_position(worlds: Any) -> None:
    data = worlds.data(positions=2)
    data["positions"][1]["type"] = "nope"
    with pytest.raises(ValidationError, match=r"position 2.*unknown meter type"):
        SimBenchConfig.model_validate(data)
    data = worlds.data(positions=2)
    data["positions"][1]["overrides"] = {"itr_a": 10.0}  # above Iref 5 A
    with pytest.raises(ValidationError, match=r"position 2.*inconsistent"):
        SimBenchConfig.model_validate(data)


def test_error_curve_currents_must_increase(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="strictly increasing"):
        _validate(worlds, behaviour={"error_curve_pct": [[1.0, 0.1], [0.5, 0.2]]})


def test_chamber_and_source_ranges_are_checked(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="temperature_range_c"):
        _validate(worlds, chamber={"temperature_range_c": [50, 10]})
    with pytest.raises(ValidationError, match="gradient_up_k_per_min exceeds"):
        _validate(worlds, chamber={"gradient_up_k_per_min": 9, "max_gradient_up_k_per_min": 5})
    with pytest.raises(ValidationError, match="nominal_frequency_hz"):
        _validate(worlds, source={"nominal_frequency_hz": 80})
    assert _validate(worlds, chamber={}).chamber is not None


def test_failure_mode_drift_needs_a_drift(worlds: Any) -> None:
    with pytest.raises(ValidationError, match="drift_pct"):
        _validate(worlds, failure={"weibull_beta": 2, "weibull_eta_h": 100, "mode": "drift"})


def test_naive_epoch_is_utc_and_ports_default_to_ephemeral(worlds: Any) -> None:
    cfg = _validate(worlds, epoch="2026-03-02T08:00:00")
    assert cfg.epoch.utcoffset() is not None and cfg.epoch.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert cfg.network.ports == {}
    cfg = _validate(worlds, network={"ports": {"source": 5025}})
    assert cfg.network.ports["source"] == 5025
    with pytest.raises(ValidationError):
        _validate(worlds, network={"ports": {"source": 70000}})


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [(None, "name", "a,b"), (None, "name", "line\nbreak"), (None, "name", " padded"), (None, "name", ""),
     ("reference", "model", "WT;5000"), ("reference", "serial", "S\u00e91"), ("chamber", "model", "VT\r4002"),
     ("chamber", "serial", "x" * 65)],
)  # fmt: skip
def test_identification_fields_are_plain_ascii_without_separators(
    worlds: Any, section: str | None, field: str, value: str
) -> None:
    """Bench name, models and serials are sent as fields of *IDN? (IEEE 488.2 §10.14) and SimServ replies."""
    data = worlds.data(chamber={})
    (data.setdefault(section, {}) if section else data)[field] = value
    with pytest.raises(ValidationError) as ei:
        SimBenchConfig.model_validate(data)
    (error,) = ei.value.errors()
    assert error["loc"] == ((section, field) if section else (field,))
    assert "identification reply" in error["msg"]


def test_identification_fields_accept_spaces_inside(worlds: Any) -> None:
    cfg = SimBenchConfig.model_validate(worlds.data(chamber={"model": "SimChamber VT4002"}, name="bench 1 (lab A)"))
    assert cfg.chamber is not None and cfg.chamber.model == "SimChamber VT4002" and cfg.name == "bench 1 (lab A)"
