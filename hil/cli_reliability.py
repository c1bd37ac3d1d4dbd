"""``hil reliability ...``: the reliability analytics (hil/reliability) from the command line.

Each command prints a plain readable summary, or JSON with ``--json``. Bad input (a value out of range, a
malformed CSV/YAML table) prints ``hil: error: ...`` naming the argument, or the file, line and field, and exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hil.values import jsonable

EXIT_BAD_INPUT = 2

Handler = Callable[[argparse.Namespace], int]


def _err(msg: str) -> int:
    print(f"hil: error: {msg}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


def _num(x: float, digits: int = 5) -> str:
    """A number for people: ``digits`` significant digits, ∞ for infinity."""
    if math.isinf(x):
        return "∞"
    if math.isnan(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _hours(x: float) -> str:
    return f"{_num(x)} h"


def _span(lo: float, hi: float, unit: str = " h") -> str:
    return f"{_num(lo)} … {_num(hi)}{unit}"


def _pct(x: float) -> str:
    return f"{x * 100:g} %"


def _print_pairs(title: str, pairs: Sequence[tuple[str, str]]) -> None:
    print(title)
    width = max(len(k) for k, _ in pairs)
    for k, v in pairs:
        print(f"  {k.ljust(width)}  {v}")


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def _emit(args: argparse.Namespace, data: dict[str, Any], text: Callable[[], None]) -> int:
    if args.json:
        print(json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        text()
    return 0


def _guarded(handler: Handler) -> Handler:
    """Bad input → one clear error line and exit 2, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ValueError as exc:  # includes ConfigError (file:line: field: message)
            return _err(str(exc))
        except OSError as exc:
            return _err(f"{getattr(exc, 'filename', None) or ''} {exc.strerror or exc}".strip())

    return run


# --- weibull / stress levels ------------------------------------------------------------------------------------


def cmd_weibull(args: argparse.Namespace) -> int:
    from hil.reliability import fit_weibull, read_life_data, weibull_plot_png

    data = read_life_data(args.file, level=args.level)
    fit = fit_weibull(data, args.confidence)
    b_lives = args.b or [10.0]
    extra = {f"B{p:g}": (fit.b_life(p), fit.b_life_interval(p)) for p in b_lives}
    if args.plot is not None:
        args.plot.write_bytes(weibull_plot_png(data, fit, title=f"Weibull probability plot: {args.file.name}"))
    out = fit.to_dict() | {
        "file": str(args.file), "level": args.level,
        "b_lives_hours": {k: {"estimate": v[0], "interval": list(v[1])} for k, v in extra.items()},
        "plot": str(args.plot) if args.plot else None,
    }

    def text() -> None:
        pairs = [
            ("units", f"{fit.n} ({fit.failures} failed, {fit.censored} censored)"),
            ("shape β", f"{_num(fit.beta, 4)}   [{_span(*fit.beta_interval, unit='')}]"),
            ("scale η", f"{_hours(fit.eta)}   [{_span(*fit.eta_interval)}]"),
        ]
        pairs += [(f"{k} life", f"{_hours(v[0])}   [{_span(*v[1])}]") for k, v in extra.items()]
        pairs += [("bounds", f"{_pct(fit.confidence)} two-sided, likelihood ratio")]
        if args.plot is not None:
            pairs.append(("plot", str(args.plot)))
        _print_pairs(f"Weibull fit (MLE with right censoring) of {args.file}" + (f", level {args.level}"
                                                                                  if args.level else ""), pairs)

    return _emit(args, out, text)


def cmd_stress_levels(args: argparse.Namespace) -> int:
    from hil.reliability import compare_shapes, read_life_levels

    cmp = compare_shapes(read_life_levels(args.file), confidence=args.confidence, alpha=args.alpha)

    def text() -> None:
        print(f"Weibull shape β across stress levels (IEC 62059-31-1 style) of {args.file}")
        rows = [
            [name, str(f.n), str(f.failures), _num(f.beta, 4), _span(*f.beta_interval, unit=""), _hours(f.eta)]
            for name, f in cmp.fits.items()
        ]
        _print_table(["level", "units", "failed", "β", f"β {_pct(cmp.confidence)} LR", "η"], rows)
        print(f"  common β {_num(cmp.common_beta, 4)} [{_span(*cmp.common_beta_interval, unit='')}]")
        print(f"  likelihood-ratio test of equal β: χ² = {_num(cmp.statistic, 4)}, {cmp.dof} dof, "
              f"p = {_num(cmp.p_value, 3)}")
        print(f"  {cmp.verdict}")

    return _emit(args, cmp.to_dict() | {"file": str(args.file)}, text)


# --- MTBF and demonstration -------------------------------------------------------------------------------------


def cmd_mtbf(args: argparse.Namespace) -> int:
    from hil.reliability import estimate_mtbf

    est = estimate_mtbf(args.hours, args.failures, args.confidence, failure_terminated=args.failure_terminated)

    def text() -> None:
        _print_pairs(f"MTBF, {est.test} test (χ², {est.dof} degrees of freedom for the lower bound)", [
            ("total time T", _hours(est.total_hours)),
            ("failures r", str(est.failures)),
            ("point estimate T/r", _hours(est.point_hours)),
            (f"lower bound, {_pct(est.confidence)} one-sided", _hours(est.lower_hours)),
            (f"{_pct(est.confidence)} two-sided interval", _span(*est.interval_hours)),
        ])

    return _emit(args, est.to_dict(), text)


def cmd_demo_test(args: argparse.Namespace) -> int:
    from hil.reliability import plan_demo_test

    plan = plan_demo_test(args.mtbf, args.confidence, args.failures, args.units)

    def text() -> None:
        pairs = [
            ("required MTBF θ", _hours(plan.required_mtbf_hours)),
            ("confidence", _pct(plan.confidence)),
            ("allowed failures", str(plan.allowed_failures)),
            ("total unit-hours", _hours(plan.total_unit_hours)),
        ]
        if plan.units is not None and plan.hours_per_unit is not None:
            pairs.append(("per unit", f"{plan.units} units × {_hours(plan.hours_per_unit)}"))
        _print_pairs("MTBF demonstration test (time-terminated, constant failure rate)", pairs)

    return _emit(args, plan.to_dict(), text)


def cmd_success_run(args: argparse.Namespace) -> int:
    from hil.reliability import success_run_units, success_run_units_exact

    exact = success_run_units_exact(args.reliability, args.confidence, beta=args.beta, test_ratio=args.test_ratio)
    n = success_run_units(args.reliability, args.confidence, beta=args.beta, test_ratio=args.test_ratio)
    out = {"reliability": args.reliability, "confidence": args.confidence, "beta": args.beta,
           "test_ratio": args.test_ratio, "units_exact": exact, "units": n}

    def text() -> None:
        _print_pairs("Weibull success run: n = ln(1 − CL) / (m^β · ln R), no failure allowed", [
            ("reliability R", f"{args.reliability:g}"), ("confidence", _pct(args.confidence)),
            ("β", f"{args.beta:g}"), ("test time / mission time m", f"{args.test_ratio:g}"),
            ("units, all surviving", f"{n} (exact {_num(exact)})"),
        ])

    return _emit(args, out, text)


# --- acceleration factors ---------------------------------------------------------------------------------------


def _af_out(args: argparse.Namespace, model: str, formula: str, af: float, inputs: dict[str, float]) -> int:
    def text() -> None:
        _print_pairs(f"{model} acceleration factor: {formula}",
                     [*((k, f"{v:g}") for k, v in inputs.items()), ("AF", _num(af))])

    return _emit(args, {"model": model, "formula": formula, "inputs": inputs, "acceleration_factor": af}, text)


def cmd_af_arrhenius(args: argparse.Namespace) -> int:
    from hil.reliability import arrhenius_af

    af = arrhenius_af(args.ea, args.t_use, args.t_test)
    return _af_out(args, "Arrhenius", "exp[(Ea/k)(1/T_use − 1/T_test)]", af,
                   {"ea_ev": args.ea, "t_use_c": args.t_use, "t_test_c": args.t_test})


def cmd_af_peck(args: argparse.Namespace) -> int:
    from hil.reliability import peck_af

    af = peck_af(args.rh_use, args.rh_test, args.t_use, args.t_test, ea_ev=args.ea, n=args.n)
    return _af_out(args, "Peck", "(RH_use/RH_test)^(−n) · exp[(Ea/k)(1/T_use − 1/T_test)]", af,
                   {"rh_use_pct": args.rh_use, "rh_test_pct": args.rh_test, "t_use_c": args.t_use,
                    "t_test_c": args.t_test, "ea_ev": args.ea, "n": args.n})


def cmd_af_coffin_manson(args: argparse.Namespace) -> int:
    from hil.reliability import coffin_manson_af

    af = coffin_manson_af(args.dt_use, args.dt_test, n=args.n)
    return _af_out(args, "Coffin–Manson", "(ΔT_test/ΔT_use)^n", af,
                   {"delta_t_use_k": args.dt_use, "delta_t_test_k": args.dt_test, "n": args.n})


# --- screening, parts count -------------------------------------------------------------------------------------


def _screening_out(args: argparse.Namespace, ss: Any) -> int:
    def text() -> None:
        _print_pairs(f"Screening strength, {ss.screen} — HEURISTIC (MIL-HDBK-344A)", [
            *((k, f"{v:g}") for k, v in ss.inputs.items()),
            ("formula", ss.formula),
            ("screening strength", f"{_num(ss.strength, 4)} (HEURISTIC)"),
        ])
        print(f"  {ss.note}")

    return _emit(args, ss.to_dict(), text)


def cmd_screening_tc(args: argparse.Namespace) -> int:
    from hil.reliability import thermal_cycling_strength

    return _screening_out(args, thermal_cycling_strength(args.range, args.rate, args.cycles))


def cmd_screening_rv(args: argparse.Namespace) -> int:
    from hil.reliability import random_vibration_strength

    return _screening_out(args, random_vibration_strength(args.grms, args.minutes))


def cmd_parts_count(args: argparse.Namespace) -> int:
    from hil.reliability import predict_parts_count

    res = predict_parts_count(args.table)

    def text() -> None:
        print(f"Parts-count prediction{f' {res.name}' if res.name else ''} ({args.table}): λ = Σ N·λ·π_Q·π_E")
        rows = [[x.part, str(x.quantity), _num(x.lambda_fit_each), f"{x.pi_q:g}", f"{x.pi_e:g}",
                 _num(x.lambda_fit_total)] for x in res.lines]
        _print_table(["part", "N", "λ each (FIT)", "π_Q", "π_E", "λ total (FIT)"], rows)
        print(f"  system λ {_num(res.system_lambda_fit)} FIT ({_num(res.system_lambda_per_hour)} /h); "
              f"MTBF {_hours(res.mtbf_hours)}")

    return _emit(args, res.to_dict() | {"file": str(args.table)}, text)


# --- wiring -----------------------------------------------------------------------------------------------------


def _confidence(p: argparse.ArgumentParser, default: float | None, what: str = "confidence level") -> None:
    if default is None:
        p.add_argument("--confidence", type=float, required=True, metavar="CL", help=f"{what}, 0…1 (e.g. 0.9)")
    else:
        p.add_argument("--confidence", type=float, default=default, metavar="CL",
                       help=f"{what}, 0…1 (default {default:g})")


def add_reliability_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reliability`` and its subcommands to the ``hil`` subparsers ``sub``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    rel = sub.add_parser("reliability", help="reliability analytics: Weibull, MTBF, acceleration, screening")
    rsub = rel.add_subparsers(dest="reliability_command", required=True, metavar="COMMAND")

    def leaf(name: str, handler: Handler, help_: str, parent: Any = rsub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(func=_guarded(handler))
        return p

    p = leaf("weibull", cmd_weibull, "Weibull fit (MLE, right censoring, likelihood-ratio bounds) of a life-data CSV")
    p.add_argument("file", type=Path, metavar="FILE.csv", help="columns: unit, hours, failed (0/1) or status")
    _confidence(p, 0.90, "two-sided confidence of the bounds")
    p.add_argument("--level", help="stress level to fit, if the file has a level column")
    p.add_argument("--b", type=float, action="append", metavar="P", help="B-life percent to report (repeatable; "
                   "default 10)")
    p.add_argument("--plot", type=Path, metavar="OUT.png", help="write the Weibull probability plot")

    p = leaf("stress-levels", cmd_stress_levels, "compare Weibull β across stress levels (IEC 62059-31-1 style)")
    p.add_argument("file", type=Path, metavar="FILE.csv", help="columns: unit, hours, failed or status, level")
    _confidence(p, 0.90, "two-sided confidence of the per-level bounds")
    p.add_argument("--alpha", type=float, default=0.05, help="significance of the equal-β test (default 0.05)")

    p = leaf("mtbf", cmd_mtbf, "MTBF lower confidence bound and interval from a test (χ²)")
    p.add_argument("--hours", type=float, required=True, metavar="T", help="total unit-hours on test")
    p.add_argument("--failures", type=int, required=True, metavar="r", help="failures observed")
    _confidence(p, None)
    p.add_argument("--failure-terminated", action="store_true",
                   help="the test stopped at the r-th failure (2r dof); default time-terminated (2r+2)")

    p = leaf("demo-test", cmd_demo_test, "plan an MTBF demonstration test: unit-hours for θ at a confidence")
    p.add_argument("--mtbf", type=float, required=True, metavar="θ", help="MTBF to demonstrate (hours)")
    _confidence(p, None)
    p.add_argument("--failures", type=int, default=0, metavar="r", help="failures allowed (default 0)")
    p.add_argument("--units", type=int, metavar="n", help="units on test: split the hours per unit")

    p = leaf("success-run", cmd_success_run, "Weibull success run: units that must all survive to show R at CL")
    p.add_argument("--reliability", type=float, required=True, metavar="R", help="reliability to show, 0…1")
    _confidence(p, None)
    p.add_argument("--beta", type=float, default=1.0, help="Weibull shape β (default 1)")
    p.add_argument("--test-ratio", type=float, default=1.0, metavar="m", help="test time / mission time (default 1)")

    af = rsub.add_parser("af", help="acceleration factor: arrhenius, peck, coffin-manson")
    afsub = af.add_subparsers(dest="af_model", required=True, metavar="MODEL")
    p = leaf("arrhenius", cmd_af_arrhenius, "Arrhenius temperature acceleration", afsub)
    p.add_argument("--ea", type=float, required=True, metavar="EV", help="activation energy (eV)")
    p.add_argument("--t-use", type=float, required=True, metavar="°C", help="use temperature (°C)")
    p.add_argument("--t-test", type=float, required=True, metavar="°C", help="test temperature (°C)")
    p = leaf("peck", cmd_af_peck, "Peck temperature–humidity acceleration", afsub)
    p.add_argument("--rh-use", type=float, required=True, metavar="%", help="use relative humidity (%%)")
    p.add_argument("--rh-test", type=float, required=True, metavar="%", help="test relative humidity (%%)")
    p.add_argument("--t-use", type=float, required=True, metavar="°C", help="use temperature (°C)")
    p.add_argument("--t-test", type=float, required=True, metavar="°C", help="test temperature (°C)")
    p.add_argument("--ea", type=float, default=0.79, metavar="EV", help="activation energy (eV, default 0.79)")
    p.add_argument("--n", type=float, default=2.66, help="humidity exponent (default 2.66)")
    p = leaf("coffin-manson", cmd_af_coffin_manson, "Coffin–Manson thermal-cycling acceleration", afsub)
    p.add_argument("--dt-use", type=float, required=True, metavar="K", help="temperature swing in use (K)")
    p.add_argument("--dt-test", type=float, required=True, metavar="K", help="temperature swing in test (K)")
    p.add_argument("--n", type=float, default=1.9, help="fatigue exponent (default 1.9, SnPb solder)")

    scr = rsub.add_parser("screening", help="MIL-HDBK-344A screening strength (HEURISTIC)")
    scrsub = scr.add_subparsers(dest="screen", required=True, metavar="SCREEN")
    p = leaf("thermal-cycling", cmd_screening_tc, "temperature-cycling screening strength (HEURISTIC)", scrsub)
    p.add_argument("--range", type=float, required=True, metavar="°C", help="temperature range R (°C)")
    p.add_argument("--rate", type=float, required=True, metavar="°C/min", help="rate of change (°C/min)")
    p.add_argument("--cycles", type=int, required=True, metavar="N", help="number of cycles")
    p = leaf("random-vibration", cmd_screening_rv, "random-vibration screening strength (HEURISTIC)", scrsub)
    p.add_argument("--grms", type=float, required=True, help="vibration level (Grms)")
    p.add_argument("--minutes", type=float, required=True, help="duration (minutes)")

    p = leaf("parts-count", cmd_parts_count, "parts-count prediction from a CSV or YAML table")
    p.add_argument("table", type=Path, metavar="TABLE", help="CSV or YAML: part, quantity, lambda_fit or "
                   "lambda_per_1e6h, pi_q, pi_e")
