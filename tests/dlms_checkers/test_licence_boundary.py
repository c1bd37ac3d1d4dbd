"""The checker packages (GPL-2.0, GPL-3.0, BSL-1.1) stay test-time checkers: nothing shipped imports them.

``hil/`` and ``instruments/`` (the Apache-2.0 code) must import neither the packages nor this folder's
scripts, which run only as subprocesses.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER_MODULES = (
    "gurux_dlms",
    "gurux_common",
    "gurux_net",
    "gurux_serial",
    "dlms_cosem",
    "pydlms",
    "tests.dlms_checkers",
)


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return names


@pytest.mark.parametrize("folder", ["hil", "instruments"])
def test_shipped_code_never_imports_a_checker(folder: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(imported(path))
        if any(name == m or name.startswith(m + ".") for m in CHECKER_MODULES)
    ]
    assert not offenders, offenders


def test_the_scan_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import importlib\ndef f():\n    from gurux_dlms import GXDLMSClient\n"
        "    importlib.import_module('pydlms.client')\n",
        encoding="utf-8",
    )
    assert {"gurux_dlms", "pydlms.client"} <= imported(bad)
