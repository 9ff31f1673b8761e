"""`python -m bench [--rows N] [--repeat R] [--only NAME]`: prepare the data set, run every benchmark.

Each benchmark is a module with `run(ctx: BenchContext) -> None` that prints its own table; adding one
is one line in BENCHMARKS.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bench.dataset import prepare
from cloudbackup.dburl import parse_db_url

BENCHMARKS = {
    "backup": "bench.backup",
    "restore": "bench.restore",
    "restore_indexed": "bench.restore_indexed",
    "cold_start": "bench.cold_start",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated table (default 1M)")
    p.add_argument("--repeat", type=int, default=3, help="runs per tool, interleaved (default 3)")
    p.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only this benchmark")
    p.add_argument(
        "--db-url",
        default=os.environ.get("CLOUDBACKUP_BENCH_DB_URL", "mysql://root@127.0.0.1:3306"),
        help="server to benchmark against (default mysql://root@127.0.0.1:3306)",
    )
    args = p.parse_args(argv)
    ctx = prepare(parse_db_url(args.db_url), rows=args.rows, repeat=args.repeat)
    for name in args.only or list(BENCHMARKS):
        importlib.import_module(BENCHMARKS[name]).run(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
