"""`python -m bench [--rows N] [--repeat R] [--only NAME] [--server mysql]`: build the data set, run.

`--server mysql` starts a MySQL 9.7 of its own (tests/fixtures/mysql_server.py, binary log and GTIDs on)
and measures against it, beside that build's own mysqldump and mysql client.

Each benchmark is a module with `run(ctx: BenchContext) -> None` that prints its own table; adding one
is one line in BENCHMARKS.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.dataset import prepare
from cloudbackup.dburl import parse_db_url
from tests.fixtures.mysql_server import MySQLServer, fetch_mysql, start_mysql, stop_mysql

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
    p.add_argument(
        "--server",
        choices=["mariadb", "mysql"],
        default="mariadb",
        help="mariadb: the server at --db-url; mysql: start a MySQL 9.7 of its own and use its tools",
    )
    args = p.parse_args(argv)
    _compile_sources()
    with ExitStack() as stack:
        url, tools = args.db_url, {}
        if args.server == "mysql":
            server = stack.enter_context(_mysql_server())
            url = server.url
            # its own tools; the restore benchmark loads the dump back into the same server, whose
            # GTIDs cannot be declared purged again
            tools = {
                "mysql": server.build.command("mysql"),
                "mysqldump": [*server.build.command("mysqldump"), "--set-gtid-purged=OFF"],
            }
            print(f"server: MySQL {server.build.version} at {url}")
        ctx = prepare(parse_db_url(url), rows=args.rows, repeat=args.repeat, tools=tools, server=args.server)
        for name in args.only or list(BENCHMARKS):
            importlib.import_module(BENCHMARKS[name]).run(ctx)
    return 0


def _compile_sources() -> None:
    """Compile our sources to bytecode, as installing the package would (pip compiles what it
    installs). The editable install runs from `functions/`, and a shell with PYTHONDONTWRITEBYTECODE
    set would otherwise compile every module again in every command measured (about 55 ms each)."""
    functions = Path(__file__).resolve().parent.parent / "functions"
    if not compileall.compile_dir(functions, quiet=1):
        raise RuntimeError(f"compiling {functions} failed")


@contextmanager
def _mysql_server() -> Iterator[MySQLServer]:
    home = Path(tempfile.mkdtemp(prefix="cbbench-mysql-"))
    server = start_mysql(fetch_mysql(), home)
    try:
        yield server
    finally:
        stop_mysql(server.pid)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
