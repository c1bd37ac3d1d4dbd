"""Architecture boundaries (docs/architecture.md), checked on the import statements of the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


#: what talks to (or stands in for) instruments
BENCH_SIDE = ("instruments.drivers", "instruments.simulators", "instruments.scpi", "instruments.roles")


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, relative imports resolved against its package (under ``root``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = list(path.resolve().relative_to(root.resolve()).with_suffix("").parts)[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            out.add(".".join([*base, *([node.module] if node.module else [])]))
    return out


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("instruments/drivers", ("instruments.simulators", "hil")),  # the simulator lives behind the wire
        ("instruments/simulators/world", ("instruments.scpi", "instruments.simulators.net", "hil",
                                          "instruments.drivers")),
        ("instruments/scpi", ("instruments.simulators.world", "instruments.drivers", "hil")),
        ("instruments/simulators", ("instruments.drivers", "hil")),
        # the DLMS/COSEM protocol is sans-IO, shared by the simulated meters and the client: it knows neither
        ("instruments/dlms", ("instruments.simulators", "instruments.drivers", "instruments.scpi", "hil")),
        # the plan core knows no kind, and nothing above it (kinds are plugins found through entry points)
        ("hil/core", ("hil.kinds", "hil.pytest_plugin", "hil.cli", "hil.cli_run", "hil.cli_kinds", "hil.runner")),
        # standards, reliability: pure (nothing from the bench, the core or a kind); measure: no kind
        ("hil/standards", ("hil.core", "hil.kinds", "hil.bench", "hil.measure", *BENCH_SIDE)),
        ("hil/reliability", ("hil.core", "hil.kinds", "hil.bench", "hil.measure", *BENCH_SIDE)),
        # power-quality math is pure: labs use it for expected values, the PQ kinds too
        ("hil/pq", ("hil.core", "hil.kinds", "hil.bench", "hil.measure", "hil.standards", "instruments")),
        # the STS token codec is pure: shared by the simulated payment meters and the lab's CLI, it knows neither
        ("instruments/sts", ("instruments.simulators", "instruments.drivers", "instruments.scpi", "hil")),
        # the OCMF codec is pure too: shared by the simulated charging-station meters and the OCMF kind
        ("instruments/ocmf", ("instruments.simulators", "instruments.drivers", "instruments.scpi", "hil")),
        ("hil/measure", ("hil.kinds",)),
        # results and reporting never talk to instruments, and serve every kind without knowing one
        ("hil/reporting", ("hil.kinds", "hil.bench", "instruments.drivers")),
        ("hil/results.py", ("hil.core", "hil.kinds", "hil.bench", "hil.measure", *BENCH_SIDE)),
        ("hil/dataset.py", ("hil.core", "hil.kinds", "hil.bench", "hil.measure", *BENCH_SIDE)),
        ("hil/benchfile.py", ("hil.core", "hil.kinds", "hil.measure")),
        ("hil/bench.py", ("hil.core", "hil.kinds", "hil.measure")),
    ],
)
def test_forbidden_imports(folder: str, forbidden: tuple[str, ...]) -> None:
    files = modules(folder) if (ROOT / folder).is_dir() else [ROOT / folder]
    assert files, f"no modules under {folder}"
    offenders = [
        f"{p.relative_to(ROOT)} imports {imp}"
        for p in files
        for imp in sorted(imports_of(p))
        if any(imp == f or imp.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


def test_yaml_is_only_safe_loaded() -> None:
    for folder in ("hil", "instruments"):
        for p in modules(folder):
            text = p.read_text(encoding="utf-8")
            assert "yaml.load(" not in text and "yaml.unsafe_load" not in text, p
            assert "eval(" not in text.replace("literal_eval(", ""), p


def kind_families() -> list[str]:
    return sorted(p.name for p in (ROOT / "hil" / "kinds").iterdir() if (p / "__init__.py").exists())


def test_kind_families_do_not_import_each_other() -> None:
    families = kind_families()
    assert {"accuracy", "sequences", "functional"} <= set(families)
    offenders = [
        f"{p.relative_to(ROOT)} imports {imp}"
        for fam in families
        for p in modules(f"hil/kinds/{fam}")
        for imp in sorted(imports_of(p))
        if imp.startswith("hil.kinds.") and imp.split(".")[2] != fam
    ]
    assert offenders == []


def test_the_boundary_check_sees_a_violation(tmp_path: Path) -> None:
    """The import scan catches a core module importing a kind, also lazily inside a function and relatively
    (the rules above can fail)."""
    core = tmp_path / "hil" / "core"
    core.mkdir(parents=True)
    bad = core / "probe.py"
    bad.write_text("def f():\n    from hil.kinds.accuracy.steps import accuracy_steps\n"
                   "    from ..kinds.sequences import plugin\n    from . import steps\n", encoding="utf-8")
    found = imports_of(bad, tmp_path)
    assert {"hil.kinds.accuracy.steps", "hil.kinds.sequences", "hil.core"} <= found


def test_every_built_in_kind_module_is_registered_as_an_entry_point() -> None:
    """A kind is reached only through its entry point: every plugin class named in pyproject.toml exists in
    the family package it names."""
    import tomllib

    eps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"][
        "meterhil.kinds"]
    families = {v.split(":")[0].split(".")[2] for v in eps.values()}
    assert families == set(kind_families())
