"""``hil kinds``: the installed test kinds, and the plan section of one of them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def cmd_kinds(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hil.core.kinds import KindError, kind_schema, registry

    kinds = registry()
    console = Console(width=None if sys.stdout.isatty() else 200)
    if args.kind is None:
        rows = [{"kind": i.name, "distribution": i.distribution, "version": i.version,
                 "description": i.description} for i in kinds.infos.values() if i.name not in kinds.conflicts]
        rows += [{"kind": name, "distribution": ", ".join(i.distribution for i in infos),
                  "version": ", ".join(i.version for i in infos),
                  "description": "(refused: registered by more than one distribution)"}
                 for name, infos in kinds.conflicts.items()]
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        table = Table(title=f"{len(rows)} installed test kinds (entry points meterhil.kinds)")
        for col in ("kind", "distribution", "version", "description"):
            table.add_column(col)
        for r in rows:
            bad = r["kind"] in kinds.conflicts or kinds.infos[r["kind"]].plugin is None
            table.add_row(r["kind"], r["distribution"], r["version"], r["description"], style="red" if bad else "")
        console.print(table)
        return 0
    try:
        plugin = kinds.plugin_for(args.kind)
    except KindError as exc:
        print(f"hil: error: {exc}", file=sys.stderr)
        return 2
    info = kinds.infos[args.kind]
    fields = kind_schema(plugin)
    if args.json:
        print(json.dumps({"kind": info.name, "distribution": info.distribution, "version": info.version,
                          "description": info.description, "fields": fields,
                          "json_schema": plugin.model.model_json_schema()}, indent=2, default=str))
        return 0
    table = Table(title=f"kind {info.name} ({info.distribution} {info.version}): {info.description}")
    for col in ("field", "type", "default", "description"):
        table.add_column(col)
    for f in fields:
        table.add_row(f["field"], f["type"], _text(f["default"]), f["description"])
    console.print(table)
    doc = plugin.model.__doc__ or ""
    if doc.strip():
        console.print(doc.strip(), markup=False)
    return 0


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, default=str)


def add_kinds_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("kinds", help="list the installed test kinds, or show the plan section of one",
                       description="The test kinds installed as plugins (entry-point group meterhil.kinds), with "
                                   "their distribution and version; with KIND, the fields of its plan section.",
                       epilog="examples: hil kinds · hil kinds accuracy · hil kinds burn_in --json")
    k.add_argument("kind", nargs="?", help="a kind: print the fields of its plan section (type, default)")
    k.add_argument("--json", action="store_true", help="machine-readable output")
    k.set_defaults(func=cmd_kinds)
