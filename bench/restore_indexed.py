"""Restore of indexed tables: ours beside the stock client, myloader and the LOAD DATA INFILE floor.

Two databases of N generated rows each, made once and kept: `plain` (a primary key only) and `indexed`
(a unique key, two secondary keys, a composite key and a foreign key to a small parent table). Each is
backed up once with cloudbackup; then, per database, interleaved in the same run, into a fresh database:
- cloudbackup restore of that backup (--jobs 2);
- the stock client loading the same data object: `zstd -dc OBJECT | mysql`;
- myloader with the same two threads, from mydumper's dump of the same database;
- the floor: the same rows through server-side LOAD DATA INFILE into the same CREATE TABLEs.
Each of our restores is checked against the source: CHECKSUM TABLE and SHOW CREATE of every table.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pymysql

from bench.dataset import BenchContext
from bench.measure import Measurement, measure
from bench.restore import Tool, rows_path

TARGET = "cbbench_idx_restored"
MAX_RATIO_CLIENT = 0.5
MAX_RATIO_FLOOR = 1.3
MAX_RATIO_MYLOADER = 0.8
MAX_RSS_MB = 150
JOBS = 2

PARENTS = "CREATE TABLE parents (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL) ENGINE=InnoDB"
PLAIN = (
    "CREATE TABLE plain (id INT UNSIGNED NOT NULL PRIMARY KEY, customer INT NOT NULL, "
    "code CHAR(12) NOT NULL, placed DATETIME NOT NULL, total DECIMAL(12,2), note VARCHAR(64)) ENGINE=InnoDB"
)
INDEXED = (
    "CREATE TABLE indexed (id INT UNSIGNED NOT NULL PRIMARY KEY, customer INT NOT NULL, "
    "code CHAR(12) NOT NULL, placed DATETIME NOT NULL, total DECIMAL(12,2), note VARCHAR(64), "
    "UNIQUE KEY code (code), KEY placed (placed), KEY total (total), KEY customer_placed (customer, placed), "
    "CONSTRAINT indexed_parent FOREIGN KEY (customer) REFERENCES parents (id)) ENGINE=InnoDB"
)
# Numbers 0..10^k-1 from a ten-row table, on MariaDB and MySQL alike (no sequence engine needed).
DIGITS = (
    "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 "
    "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
)


def _numbers(count: int) -> str:
    width = len(str(max(count - 1, 1)))
    parts = [f"{DIGITS} d{i}" for i in range(width)]
    value = " + ".join(f"d{i}.d * {10**i}" for i in range(width))
    return f"SELECT {value} + 1 AS n FROM {' CROSS JOIN '.join(parts)} HAVING n <= {count}"


def _fill(table: str, rows: int) -> str:
    # Shuffled codes and dates, so the secondary indexes are built from rows that do not arrive in order.
    return (
        f"INSERT INTO {table} SELECT n, 1 + n % 1000, LEFT(SHA2(n, 256), 12), "
        "TIMESTAMP'2020-01-01 00:00:00' + INTERVAL (n * 7919) % 100000000 SECOND, "
        f"(n * 31) % 1000000 / 100, CONCAT('note ', n) FROM ({_numbers(rows)}) numbers"
    )


def run(ctx: BenchContext) -> None:
    print(rows_path(ctx))
    for kind in ("plain", "indexed"):
        database = _prepare(ctx, kind)
        with tempfile.TemporaryDirectory(prefix="cbbench-idx-") as tmp:
            work = Path(tmp)
            work.chmod(0o777)
            tools = _tools(ctx, database, work)
            print(
                f"\nrestore of {database} ({ctx.rows:,} rows, {kind}), {ctx.repeat} runs per tool", flush=True
            )
            identical = True
            for round_ in range(ctx.repeat):
                for tool in tools:
                    _sql(ctx, f"DROP DATABASE IF EXISTS `{TARGET}`")
                    tool.runs.append(tool.run(TARGET))
                    print(f"  run {round_ + 1}: {tool.name:<36} {tool.runs[-1].seconds:7.2f} s", flush=True)
                    if tool is tools[0]:
                        identical = identical and _same(ctx, database, TARGET)
            _sql(ctx, f"DROP DATABASE IF EXISTS `{TARGET}`")
            _report(tools, identical)


def _prepare(ctx: BenchContext, kind: str) -> str:
    database = f"cbbench_{kind}_{ctx.rows}"
    with _connect(ctx) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (database,))
        if cur.fetchone()[0]:
            cur.execute(f"SELECT COUNT(*) FROM `{database}`.`{kind}`")
            if cur.fetchone()[0] == ctx.rows:
                return database
        print(f"data set: building {database} ...", flush=True)
        cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{database}`")
        cur.execute(PARENTS)
        cur.execute(f"INSERT INTO parents SELECT n, CONCAT('customer ', n) FROM ({_numbers(1000)}) numbers")
        cur.execute(PLAIN if kind == "plain" else INDEXED)
        cur.execute(_fill(kind, ctx.rows))
    return database


def _tools(ctx: BenchContext, database: str, work: Path) -> list[Tool]:
    mysql_client = ctx.shell("mysql")  # the server build's own client on MySQL
    print("inputs: our backup, mydumper, LOAD DATA files ...", flush=True)
    store = work / "store"
    made = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", "backup", "--db-url", ctx.url(database),
         "--data", str(store), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        raise RuntimeError(f"the backup of {database} failed: {made.stderr.strip()}")
    (backup,) = json.loads(made.stdout)
    data_object = shlex.quote(str(backup["location"]))
    create = _show_creates(ctx, database)
    for table in create:
        (work / f"{table}.tsv").unlink(missing_ok=True)
        _sql(ctx, f"SELECT * INTO OUTFILE '{work / table}.tsv' FROM `{database}`.`{table}`")

    def ours(target: str) -> Measurement:
        return measure(
            [sys.executable, "-m", "cloudbackup.cli.main", "restore", "--db-url", ctx.url(), "--backup",
             backup["id"], "--target-database", target, "--data", str(store), "--jobs", str(JOBS)]
        )  # fmt: skip

    def client(target: str) -> Measurement:
        _sql(ctx, f"CREATE DATABASE `{target}` CHARACTER SET utf8mb4")
        # (backups made before the data object stopped naming its database carry a USE line: skip it)
        skip_database_lines = "grep -av -E '^(USE|CREATE DATABASE) '"
        return measure(
            f"zstd -dc {data_object} | {skip_database_lines} | {mysql_client} {shlex.quote(target)}"
        )

    def load_data(target: str) -> Measurement:
        script = [f"CREATE DATABASE `{target}` CHARACTER SET utf8mb4", f"USE `{target}`",
                  "SET foreign_key_checks = 0, unique_checks = 0", *create.values()]  # fmt: skip
        script += [
            f"LOAD DATA INFILE '{work / table}.tsv' INTO TABLE `{table}` CHARACTER SET utf8mb4"
            for table in create
        ]
        return measure(f"{mysql_client} -e {shlex.quote(';'.join(script))}")

    tools = [
        Tool(f"cloudbackup restore (jobs {JOBS})", ours),
        Tool("zstd -dc data object | mysql", client),
        Tool("LOAD DATA INFILE (floor)", load_data),
    ]
    if shutil.which("mydumper") and shutil.which("myloader"):
        dumped = work / "mydumper"
        subprocess.run(
            ["mydumper", *ctx.client_args(), "-B", database, "-o", str(dumped), "--trx-consistency-only"],
            capture_output=True, check=True,
        )  # fmt: skip
        tools.append(
            Tool(
                f"myloader ({JOBS} threads)",
                lambda target: measure(
                    ["myloader", *ctx.client_args(), "-d", str(dumped), "-B", target, "-t", str(JOBS)]
                ),
            )
        )
    return tools


def _report(tools: list[Tool], identical: bool) -> None:
    ours = tools[0]
    print(f"\n{'tool':<36} {'seconds':>8} {'best':>7} {'peak RSS MB':>12} {'ours / tool':>12}")
    for tool in tools:
        print(
            f"{tool.name:<36} {tool.seconds:8.2f} {min(m.seconds for m in tool.runs):7.2f} "
            f"{tool.rss:12.1f} {ours.seconds / tool.seconds:12.2f}"
        )
    print("(seconds: median of the runs; ours / tool: our time as a share of that tool's)")
    by_name = {t.name.split(" ")[0]: t for t in tools}
    checks = [
        (
            f"time ≤ {MAX_RATIO_CLIENT} × stock client",
            ours.seconds / by_name["zstd"].seconds,
            MAX_RATIO_CLIENT,
        ),
        (
            f"time ≤ {MAX_RATIO_FLOOR} × LOAD DATA INFILE",
            ours.seconds / by_name["LOAD"].seconds,
            MAX_RATIO_FLOOR,
        ),
        (f"peak RSS ≤ {MAX_RSS_MB} MB", ours.rss / MAX_RSS_MB, 1.0),
    ]
    if "myloader" in by_name:
        checks.append(
            (
                f"time ≤ {MAX_RATIO_MYLOADER} × myloader",
                ours.seconds / by_name["myloader"].seconds,
                MAX_RATIO_MYLOADER,
            )
        )
    for label, value, bound in checks:
        print(f"  {label:<36} {value:6.2f} (bound {bound})  {'met' if value <= bound else 'NOT MET'}")
    print(f"  restored database identical (CHECKSUM TABLE, SHOW CREATE): {'yes' if identical else 'NO'}")


def _show_creates(ctx: BenchContext, database: str) -> dict[str, str]:
    with _connect(ctx, database) as conn, conn.cursor() as cur:
        cur.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
        tables = sorted(str(name) for name, _ in cur.fetchall())
        found = {}
        for table in ["parents", *[t for t in tables if t != "parents"]]:  # the parent before its children
            cur.execute(f"SHOW CREATE TABLE `{table}`")
            found[table] = str(cur.fetchone()[1])
    return found


def _same(ctx: BenchContext, source: str, copy: str) -> bool:
    with _connect(ctx) as conn, conn.cursor() as cur:
        for table, create in _show_creates(ctx, source).items():
            cur.execute(f"CHECKSUM TABLE `{source}`.`{table}`, `{copy}`.`{table}`")
            sums = {row[1] for row in cur.fetchall()}
            cur.execute(f"SHOW CREATE TABLE `{copy}`.`{table}`")
            if len(sums) != 1 or str(cur.fetchone()[1]) != create:
                print(f"  ! {copy}.{table} differs from the source")
                return False
    return True


def _connect(ctx: BenchContext, database: str | None = None) -> pymysql.Connection:  # type: ignore[type-arg]
    s = ctx.settings
    return pymysql.connect(
        host=s.host, port=s.port, user=s.user, password=s.password, database=database, autocommit=True
    )


def _sql(ctx: BenchContext, statement: str) -> None:
    with _connect(ctx) as conn, conn.cursor() as cur:
        cur.execute(statement)
