"""Architecture boundaries (docs/architecture.md), checked on the import statements of the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
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
    ],
)
def test_forbidden_imports(folder: str, forbidden: tuple[str, ...]) -> None:
    files = modules(folder)
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
