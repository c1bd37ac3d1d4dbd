"""Test kinds as plugins: the registry of entry points, unknown and broken kinds, `hil kinds`, and a third-party
kind (docs/examples/meterhil-nameplate) installed into a temporary environment and run on the simulated bench."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from hil.core import kinds
from hil.core.kinds import KindInfo, Registry
from hil.core.plan import load_plan
from instruments.yamlconfig import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "meterhil-nameplate"
BUILT_IN = {"accuracy", "starting", "no_load", "meter_constant", "influence", "burn_in", "thermal_cycling",
            "damp_heat_cyclic", "dry_heat", "cold", "damp_heat_steady", "power_cycling", "reliability_analysis",
            "clock", "tariff"}
HEADER = 'plan: p\nstandard: IEC 62053-21\nedition: "2020"\ntests:\n'


def install_dist(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """A distribution as pip leaves it in site-packages (``*.dist-info`` with METADATA and entry_points.txt):
    what ``importlib.metadata`` reads, so a kind registers exactly as when installed."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[meterhil.kinds]\n{lines}", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A temporary site directory on sys.path; the registry is read again with it, and without it afterwards."""
    d = tmp_path / "site"
    d.mkdir()
    sys.path.insert(0, str(d))
    try:
        yield d
    finally:
        sys.path.remove(str(d))
        for mod in [m for m in sys.modules if m.startswith(("broken_kind", "meterhil_nameplate"))]:
            del sys.modules[mod]
        kinds.reload()


def write_plan(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_every_built_in_kind_registers_through_its_entry_point() -> None:
    reg = kinds.registry()
    assert set(reg.names()) >= BUILT_IN
    for name in BUILT_IN:
        info = reg.infos[name]
        assert info.plugin is not None, info.error
        assert (info.distribution, info.plugin.name) == ("meterhil", name)
        assert info.target.startswith("hil.kinds.")
        assert info.plugin.model.model_fields["kind"].is_required()


def test_unknown_kind_is_refused_at_load_naming_file_line_and_the_installed_kinds(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "  - id: a\n    kind: accuracy\n  - id: b\n    kind: hipot\n")
    with pytest.raises(ConfigError) as err:
        load_plan(plan)
    e = err.value
    assert (Path(e.file), e.line, e.field) == (plan, 8, "tests[1].kind")
    assert "unknown kind 'hipot'" in e.message
    assert all(k in e.message for k in BUILT_IN)


def test_a_test_without_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_plan(write_plan(tmp_path, "  - id: a\n    load: balanced\n"))
    assert err.value.field == "tests[0]" and "no kind" in err.value.message and "accuracy" in err.value.message


def test_a_kinds_own_model_names_its_field_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_plan(write_plan(tmp_path, "  - id: a\n    kind: starting\n    time_factor: 0.5\n"))
    assert (err.value.line, err.value.field) == (7, "tests[0].time_factor")


def test_a_plugin_that_raises_while_loading_is_named_and_the_others_still_work(site: Path, tmp_path: Path) -> None:
    (site / "broken_kind.py").write_text("raise RuntimeError('licence server unreachable')\n", encoding="utf-8")
    install_dist(site, "acme-hipot", "0.3", {"hipot": "broken_kind:Hipot"})
    reg = kinds.reload()
    info = reg.infos["hipot"]
    assert info.plugin is None and info.distribution == "acme-hipot" and "licence server" in info.error
    with pytest.raises(ConfigError) as err:
        load_plan(write_plan(tmp_path, "  - id: h\n    kind: hipot\n"))
    msg = err.value.message
    assert "broken_kind:Hipot" in msg and "acme-hipot 0.3" in msg and "RuntimeError: licence server" in msg
    plan = load_plan(write_plan(tmp_path, "  - id: a\n    kind: accuracy\n"))  # the others still work
    assert [t.kind for t in plan.tests] == ["accuracy"]


def test_an_object_that_is_not_a_kind_is_refused_with_its_target(site: Path) -> None:
    (site / "broken_kind_attr.py").write_text("class Hipot:\n    name = 'hipot'\n", encoding="utf-8")
    install_dist(site, "acme-hipot", "0.3", {"hipot": "broken_kind_attr:Hipot"})
    info = kinds.reload().infos["hipot"]
    assert info.plugin is None and "is not a test kind" in info.error and "'model'" in info.error


def test_one_kind_name_from_two_distributions_is_a_conflict() -> None:
    a = KindInfo("hipot", "a:K", "acme", "1", None)
    b = KindInfo("hipot", "b:K", "other", "2", None)
    with pytest.raises(kinds.KindError, match=r"more than one distribution: acme 1 .*other 2"):
        Registry([a, b]).plugin_for("hipot")


def hil(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hil.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def test_hil_kinds_lists_the_installed_kinds_and_the_schema_of_one() -> None:
    out = hil("kinds", "--json")
    assert out.returncode == 0, out.stderr
    listed = {r["kind"]: r for r in json.loads(out.stdout)}
    assert set(listed) >= BUILT_IN and listed["accuracy"]["distribution"] == "meterhil"
    assert listed["accuracy"]["version"] and listed["accuracy"]["description"]
    one = hil("kinds", "accuracy", "--json")
    assert one.returncode == 0, one.stderr
    fields = {f["field"]: f for f in json.loads(one.stdout)["fields"]}
    assert fields["id"]["default"] == "required"
    assert fields["power_factors"]["default"] == ["1", "0.5L", "0.8C"]
    assert fields["load"]["type"] == "Literal['balanced', 'single_element']"
    text = hil("kinds", "accuracy")
    assert text.returncode == 0 and "power_factors" in text.stdout and "voltage_pct" in text.stdout
    bad = hil("kinds", "hipot")
    assert bad.returncode == 2 and "unknown kind 'hipot'" in bad.stderr and "accuracy" in bad.stderr


def test_a_third_party_kind_installed_alone_runs_a_plan_on_the_simulated_bench(tmp_path: Path) -> None:
    """docs/writing-a-test-kind.md: the example package, installed (its dist-info and module on the path), runs
    its plan in pytest on the default simulated bench; its rows land in the results table and Allure."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE / "meterhil_nameplate", site / "meterhil_nameplate")
    install_dist(site, "meterhil-nameplate", "0.1.0", {"nameplate": "meterhil_nameplate:Nameplate"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    listed = hil("kinds", "--json", env=env)
    assert {"kind": "nameplate", "distribution": "meterhil-nameplate", "version": "0.1.0"}.items() <= next(
        r for r in json.loads(listed.stdout) if r["kind"] == "nameplate").items()
    run_dir, allure_dir = tmp_path / "run", tmp_path / "allure"
    p = subprocess.run([sys.executable, "-m", "pytest", str(EXAMPLE / "nameplate_plan.yaml"), "--sim-seed", "7",
                        "--run-dir", str(run_dir), "--alluredir", str(allure_dir), "-p", "no:cacheprovider", "-q",
                        "--rootdir", str(EXAMPLE)], capture_output=True, text=True, timeout=300, env=env,
                       cwd=tmp_path)
    rows = pd.read_parquet(run_dir / "results.parquet")
    assert len(rows) == 12 and set(rows["test"]) == {"nameplate"}, p.stdout[-2000:]
    by_pos = rows.set_index("position")
    # the default bench's position 11 has its pulse output off: F.F bit 1 (docs/meter-port.md); the rest are clean
    assert by_pos.loc[11, "verdict"] == "fail" and by_pos.loc[11, "reason"] == "F.F = 00000002"
    assert (by_pos.drop(index=11)["verdict"] == "pass").all()
    assert (by_pos["port_serial"] == by_pos["serial"]).all()
    assert by_pos.loc[11, "quantity"] == "error register" and by_pos.loc[11, "upper_limit"] == 0
    assert p.returncode == 1  # one meter failed
    results = [json.loads(f.read_text(encoding="utf-8")) for f in allure_dir.glob("*-result.json")]
    ours = [r for r in results if {"name": "feature", "value": "nameplate"} in r["labels"]]
    assert len(ours) == 12
    failed = [r for r in ours if r["status"] == "failed"]
    assert len(failed) == 1 and {"name": "suite", "value": by_pos.loc[11, "serial"]} in failed[0]["labels"]
