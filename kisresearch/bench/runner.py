"""``kisresearch bench``: throughput, scale, overhead and soak, measured against the simulator.

::

    kisresearch bench [--scenarios a,b,...] [--soak SECONDS] [--out DIR] [--quick]

The simulator runs in its own process with the real profile and a realistic network: a sliding
1-s window of 20 calls per app key, 0-30 ms of jitter before a call is counted and 10-60 ms of
latency after. Each scenario (see :data:`SCENARIOS` and
``benchmarks/README.md``) gets its own app key and toolkit folder, clears the server's truth
first, and reports its figures beside their goals. The run writes
``<out>/report-<timestamp>.json`` and ``.png`` (calls/s per second against the limit, per
scenario) and prints a table. All traffic stays on 127.0.0.1.

Exit status: 0 when every goal is met, 1 when a goal is missed, 2 when a scenario failed.

From Python: :func:`run_bench` returns the report as a dict.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from .._version import __version__
from .longrun import history, overhead, soak, warm
from .report import ScenarioResult, chart, print_table, write_json
from .scale import scale
from .scenarios import (
    POOL_KEYS,
    Bench,
    compare,
    detail,
    faults,
    latency,
    multi100,
    paper,
    pool,
    processes,
    spurious,
    universe,
)
from .server import SIM_OPTIONS, SimProcess, scenario_keys
from .store import store

SCENARIOS: dict[str, tuple[Callable[[Bench], list[ScenarioResult]], tuple[str, ...]]] = {
    "detail": (detail, ("detail",)),
    "latency": (latency, ()),
    "pool": (pool, POOL_KEYS),
    "spurious": (spurious, ("spurious",)),
    "faults": (faults, ("faults",)),
    "processes": (processes, ("processes-file", "processes-redis")),
    "paper": (paper, ("paper",)),
    "multi100": (multi100, ("multi100",)),
    "universe": (universe, ("universe",)),
    "history": (history, ("history",)),
    "warm": (warm, ("warm",)),
    "store": (store, ()),
    "scale": (scale, ("scale",)),
    "compare": (compare, ("compare",)),
    "overhead": (overhead, ("overhead",)),
    "soak": (soak, ("soak",)),
}
"""Scenario name -> (function, the app-key names it uses), in the order they run."""

DEFAULT_SOAK, QUICK_SOAK = 30.0, 5.0
DEFAULT_OUT = Path("benchmarks") / "results"


def parse_scenarios(text: str | None) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` in the canonical order; None or ``"all"`` -> all."""
    if text is None or text.strip() in ("", "all"):
        return list(SCENARIOS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    return [n for n in SCENARIOS if n in names]


def run_bench(
    scenarios: Sequence[str] | None = None,
    *,
    soak: float | None = None,
    out_dir: str | Path = DEFAULT_OUT,
    quick: bool = False,
    out: TextIO | None = None,
    chart_png: bool = True,
) -> dict[str, Any]:
    """Run the scenarios, write the JSON report (and PNG chart) in ``out_dir``, print the
    progress and the table to ``out`` (default ``sys.stdout``); return the report."""
    stream = out if out is not None else sys.stdout
    names = list(scenarios) if scenarios is not None else list(SCENARIOS)
    for name in names:
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    soak_s = float(soak if soak is not None else (QUICK_SOAK if quick else DEFAULT_SOAK))
    if soak_s <= 0:
        raise ValueError("soak must be a positive number of seconds")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    started = time.perf_counter()
    load_before = _load()

    from ..shape.master import universe

    table = universe()
    keys = scenario_keys([k for n in names for k in SCENARIOS[n][1]])
    stream.write(
        f"kisresearch {__version__} bench: {', '.join(names)}{' (quick)' if quick else ''}\n"
    )
    stream.write(
        "  starting the simulator in its own process (20/s sliding window, jitter "
        "0-30 ms, latency 10-60 ms)\n"
    )
    stream.flush()
    results: list[ScenarioResult] = []
    with (
        tempfile.TemporaryDirectory(prefix="kisresearch-bench-") as work,
        SimProcess(SIM_OPTIONS, keys) as sim,
    ):
        bench = Bench(
            sim=sim,
            work=Path(work),
            quick=quick,
            soak=soak_s,
            out=stream,
            codes=table["symbol"].tolist(),
            stocks=table.loc[table["group"] == "ST", "symbol"].tolist(),
        )
        for i, name in enumerate(names, 1):
            fn, _ = SCENARIOS[name]
            stream.write(f"[{i}/{len(names)}] {name} ...\n")
            stream.flush()
            t0 = time.perf_counter()
            try:
                got = fn(bench)
            except Exception as exc:
                got = [
                    ScenarioResult(
                        name,
                        "failed",
                        error=f"{type(exc).__name__}: {exc}",
                        details={
                            "traceback": getattr(exc, "child_traceback", None)
                            or traceback.format_exc(limit=6)
                        },
                    )
                ]
            seconds = time.perf_counter() - t0
            for r in got:
                r.seconds = seconds / len(got)
                _say(stream, r)
            results.extend(got)

    report = _report(
        results, names, quick=quick, soak=soak_s, seconds=time.perf_counter() - started
    )
    report["host"]["load_average"] = {"start": load_before, "end": _load()}
    report["code"] = _code_version()
    json_path = folder / f"report-{stamp}.json"
    png_path = folder / f"report-{stamp}.png"
    report["files"] = {"json": str(json_path)}
    if chart_png and chart(results, png_path):
        report["files"]["png"] = str(png_path)
    write_json(report, json_path)
    stream.write("\n")
    print_table(results, stream)
    summary = report["summary"]
    stream.write(
        f"\n{summary['met']} goals met, {summary['missed']} missed, "
        f"{summary['failed']} scenario(s) failed, {summary['skipped']} skipped "
        f"in {report['seconds']:.0f} s\n"
    )
    for kind, path in report["files"].items():
        stream.write(f"{kind}: {path}\n")
    stream.flush()
    return report


def _say(stream: TextIO, r: ScenarioResult) -> None:
    if r.error:
        stream.write(f"    {r.name}: FAILED {r.error}\n")
    elif r.skipped:
        stream.write(f"    {r.name}: skipped ({r.skipped})\n")
    else:
        missed = [f.name for f in r.figures if f.ok is False]
        verdict = "all goals met" if not missed else "MISSED: " + "; ".join(missed)
        stream.write(f"    {r.name}: {r.title} - {verdict} ({r.seconds:.1f} s)\n")
    stream.flush()


def _report(
    results: Sequence[ScenarioResult],
    names: Sequence[str],
    *,
    quick: bool,
    soak: float,
    seconds: float,
) -> dict[str, Any]:
    verdicts = [f.ok for r in results for f in r.figures]
    return {
        "kisresearch": __version__,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "host": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": _cpus(),
        },
        "settings": {
            "scenarios": list(names),
            "quick": quick,
            "soak_s": soak,
            "simulator": {
                k: list(v) if isinstance(v, tuple) else v for k, v in SIM_OPTIONS.items()
            },
        },
        "summary": {
            "met": verdicts.count(True),
            "missed": verdicts.count(False),
            "failed": sum(1 for r in results if r.error),
            "skipped": sum(1 for r in results if r.skipped),
        },
        "scenarios": {r.name: r.to_dict() for r in results},
    }


def _code_version() -> dict[str, Any] | None:
    """The checkout's commit and how many tracked files differ from it (read-only git
    queries), or None for an installed package or without git."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        run = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return run.stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified_files": sorted(line[3:] for line in changed)}


def _load() -> list[float] | None:
    """The 1, 5 and 15-minute load averages: other work on the machine skews timings."""
    import os

    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpus() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# -- the command line ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenarios",
        default=None,
        help=f"comma-separated, from: {', '.join(SCENARIOS)} (default all)",
    )
    parser.add_argument(
        "--soak",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"soak length (default {DEFAULT_SOAK:g} s, {QUICK_SOAK:g} s "
        "with --quick; 300 for the full five minutes)",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        metavar="DIR",
        help=f"where the JSON report and PNG chart go (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts everywhere (about 30 s)"
    )


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``kisresearch`` command's subparsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="measure throughput, overhead and soak against the simulator",
        description=__doc__.split("\n\n", 1)[0],
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run from parsed arguments; the exit status (see the module docstring)."""
    try:
        names = parse_scenarios(args.scenarios)
    except ValueError as exc:
        (out or sys.stderr).write(f"kisresearch bench: {exc}\n")
        return 2
    report = run_bench(names, soak=args.soak, out_dir=args.out, quick=args.quick, out=out)
    summary = report["summary"]
    return 2 if summary["failed"] else 1 if summary["missed"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kisresearch bench", description=__doc__.split("\n\n", 1)[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
