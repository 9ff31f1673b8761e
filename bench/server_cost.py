"""What the server spends per row on a backup's reads, counted in instructions rather than seconds.

`python -m bench.server_cost [--rows N]` starts a MySQL 9.7 of its own under valgrind's callgrind,
fills the benchmark table (bench/dataset.py) with N rows, and counts the server's instructions for
reading every row three ways on one session set up as a backup's is (snapshot.py):
- cloudbackup: the key-range GROUP_CONCAT queries the backup sends (mysql/chunks.py), run by the
  product's own code;
- cloudbackup, row by row: one formatted literal per row (mysql/rows.py), the fallback path;
- mysqldump's query: `SELECT * FROM t`, whose values mysqldump formats on its own side.

On a shared 2-vCPU VM the backup's wall time against `mysqldump | zstd` swings by a third from run to
run; an instruction count is the same every time, so a change to the row expressions can be judged on
its own before the wall-clock benchmark (`python -m bench --server mysql --only backup`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql.cursors

from bench.dataset import CREATE, FILL, TABLE
from cloudbackup.dburl import parse_db_url
from cloudbackup.mysql.chunks import iter_chunks, key_span
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.rows import iter_inserts, statement_limit, table_layouts
from cloudbackup.mysql.snapshot import open_snapshot
from tests.fixtures.mysql_server import fetch_mysql, start_mysql, stop_mysql
from tests.fixtures.numbers import numbers

DATABASE = "cbbench_cost"
START_TIMEOUT_SECONDS = 600  # under callgrind the server starts some fifty times slower
TOTALS = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)


class Callgrind:
    """Zero and read the instruction counter of a process running under callgrind."""

    def __init__(self, pid: int, out_dir: Path) -> None:
        self.pid, self.out_dir = pid, out_dir

    def zero(self) -> None:
        subprocess.run(["callgrind_control", "-z", str(self.pid)], check=True, capture_output=True)

    def instructions(self) -> int:
        """Instructions since the last zero(), from a dump written now."""
        subprocess.run(["callgrind_control", "-d", str(self.pid)], check=True, capture_output=True)
        newest = max(self.out_dir.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
        found = TOTALS.search(newest.read_bytes())
        if found is None:
            raise RuntimeError(f"no instruction total in {newest}")
        return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.server_cost", description=__doc__)
    p.add_argument("--rows", type=int, default=20_000, help="rows in the table (default 20,000)")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("server_cost: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="cbbench-cost-"))
    wrapper = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={home}/callgrind.out.%p",
        "--dump-instr=no",
    ]
    print("starting MySQL under callgrind (a minute or two) ...", flush=True)
    server = start_mysql(fetch_mysql(), home, wrapper=wrapper, timeout=START_TIMEOUT_SECONDS)
    try:
        _fill(server.url, args.rows)
        counter = Callgrind(server.pid, home)
        _report(counter, server.url, args.rows)
    finally:
        stop_mysql(server.pid)
        shutil.rmtree(home, ignore_errors=True)
    return 0


def _fill(url: str, rows: int) -> None:
    print(f"filling {TABLE} with {rows:,} rows ...", flush=True)
    conn = connect(parse_db_url(url))
    with conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
        cur.execute(f"USE {DATABASE}")
        cur.execute(CREATE)
        cur.execute(FILL.format(numbers=numbers(rows, 1)))


def _report(counter: Callgrind, url: str, rows: int) -> None:
    conn = connect(parse_db_url(url), database=DATABASE)
    with conn:
        snapshot = open_snapshot(conn)
        limit = statement_limit(snapshot.max_allowed_packet)
        with conn.cursor() as cur:
            layout = table_layouts(cur, DATABASE)[TABLE]
            span = key_span(cur, DATABASE, TABLE, layout)
        assert span is not None, "the benchmark table has an integer primary key"

        def chunks() -> int:
            return sum(n for _, n in iter_chunks(conn, DATABASE, TABLE, layout.columns, span, limit=limit))

        def row_by_row() -> int:
            return sum(n for _, n in iter_inserts(conn, DATABASE, TABLE, layout.columns, limit=limit))

        def plain() -> int:
            with conn.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute(f"SELECT /*!40001 SQL_NO_CACHE */ * FROM `{TABLE}`")
                return sum(1 for _ in cur)

        ways: list[tuple[str, Callable[[], int]]] = [
            ("cloudbackup (GROUP_CONCAT ranges)", chunks),
            ("cloudbackup, row by row", row_by_row),
            ("mysqldump's SELECT *", plain),
        ]
        counts = {name: _count(counter, read, rows) for name, read in ways}
    ours = counts[ways[0][0]]
    print(f"\nserver instructions per row, {rows:,} rows of {TABLE} (MySQL 9.7 under callgrind)")
    print(f"{'read':<36}{'instructions/row':>18}{'ours / it':>11}")
    for name, per_row in counts.items():
        print(f"{name:<36}{per_row:>18,.0f}{ours / per_row:>11.2f}")


def _count(counter: Callgrind, read: Callable[[], Any], rows: int) -> float:
    """Instructions per row of one full read, the lower of two (the first may warm a cache)."""
    results = []
    for _ in range(2):
        counter.zero()
        got = read()
        results.append(counter.instructions())
        assert got == rows, f"read {got} rows of {rows}"
    return min(results) / rows


if __name__ == "__main__":
    sys.exit(main())
