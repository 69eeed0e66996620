"""The ``kisresearch`` command: ``demo``, ``sim``, ``bench``, ``--version``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Sequence

from ._version import __version__


def _demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from .client import KIS
    from .shape.master import universe

    codes = universe()["symbol"].tolist()
    with KIS.simulator(
        profile="real",
        jitter=(0.0, 0.03),
        latency=(0.01, 0.06),
        cache=False,
        progress=not args.quiet and sys.stderr.isatty(),  # no bar written into a log
    ) as kis:
        started = time.perf_counter()
        quotes = kis.quotes(codes)
        t_quotes = time.perf_counter() - started
        started = time.perf_counter()
        detail = kis.quotes(codes[:100], detail=True)
        t_detail = time.perf_counter() - started
        truth = kis.sim.truth()
        s = kis.stats.summary()
    limit = kis.limiter_config.rate
    print(
        f"kisresearch {__version__} demo on the embedded simulator "
        f"(real profile: {limit:g} calls/s, 0-30 ms jitter, 10-60 ms latency)"
    )
    print(
        f"  quotes, whole universe: {len(quotes):,} rows in {t_quotes:.2f} s, "
        f"{quotes['error'].notna().sum()} rows with errors"
    )
    rate = 100 / t_detail if t_detail else float("nan")
    print(
        f"  detail quotes, 100 symbols: {len(detail)} rows in {t_detail:.2f} s = "
        f"{rate:.1f} calls/s ({rate / limit:.0%} of the {limit:g}/s limit)"
    )
    print(
        f"  API calls: {s['calls']} (server accepted {truth['accepted']}, "
        f"rejected {truth['rejected']} with EGW00201), retries {s['retries']}, "
        f"errors {s['errors']}, "
        f"most calls in any 1-s window {truth['max_in_window']}"
    )
    print(
        "  the first 10 of the 100 detail quotes (price in KRW, change_pct in %, volume in shares):"
    )
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(detail[["price", "change_pct", "volume", "per", "pbr", "error"]].head(10))
    return 0


def _sim(args: argparse.Namespace) -> int:
    from .sim import Simulator

    sim = Simulator(
        profile=args.profile,
        rate=args.rate,
        window=args.window,
        jitter=(0.0, args.jitter),
        latency=(0.0, args.latency),
        seed=args.seed,
        port=args.port,
        host=args.host,
    )
    url = f"http://{args.host}:{args.port}"
    print(
        f"KIS simulator ({args.profile} profile) on {url}; Ctrl-C stops.\n"
        f"  export KIS_BASE_URL={url} KIS_APP_KEY={sim.app_key} "
        f"KIS_APP_SECRET={sim.app_secret} KIS_ACCOUNT={sim.account}",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kisresearch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kisresearch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="pull the simulator's whole market and print a summary")
    demo.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars (none when stderr is no terminal)",
    )
    demo.set_defaults(func=_demo)
    sim = sub.add_parser("sim", help="run the KIS simulator as a server")
    sim.add_argument("--port", type=int, default=8999)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--profile", choices=("real", "paper"), default="real")
    sim.add_argument("--rate", type=int, default=None, help="calls a second (default by profile)")
    sim.add_argument("--window", choices=("sliding", "fixed"), default="sliding")
    sim.add_argument("--jitter", type=float, default=0.0, help="max s of delay before arrival")
    sim.add_argument("--latency", type=float, default=0.0, help="max s of delay after it")
    sim.add_argument("--seed", type=int, default=0)
    sim.set_defaults(func=_sim)
    from .bench.runner import add_parser as add_bench_parser

    add_bench_parser(sub)
    args = parser.parse_args(argv)
    from .observe.logs import configure

    configure(level=("WARNING", "INFO", "DEBUG")[min(args.verbose, 2)])
    logging.getLogger("kisresearch").debug("command %s", args.command)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
