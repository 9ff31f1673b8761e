"""Restore benchmark: cloudbackup restore beside `zstd -dc dump.sql.zst | mysql` and myloader.

Every tool restores the same database (the generated table + sakila) into a fresh database on the same
server, in the same run, interleaved. The inputs are made once: our backup, mysqldump's dump (zstd) and
mydumper's directory. Reported: median wall seconds, logical MB/s (the uncompressed mysqldump SQL per
second, one numerator for all), peak RSS of the restoring process, ratio to ours; then the statement
splitter's own throughput on the mysqldump file.
"""

from __future__ import annotations

import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import zstandard

from bench.dataset import BenchContext
from bench.measure import Measurement, measure
from cloudbackup.mysql.load import data_settings
from cloudbackup.mysql.splitter import split_statements

MAX_RATIO_CLIENT = 1.0
MAX_RSS_MB = 150
MIN_SPLITTER_MB_S = 100
TARGET = "cbbench_restored"


@dataclass
class Tool:
    name: str
    run: Callable[[str], Measurement]  # restores into the given (absent) database
    runs: list[Measurement] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(m.seconds for m in self.runs)

    @property
    def rss(self) -> float:
        return max(m.peak_rss_mb for m in self.runs)


def run(ctx: BenchContext) -> None:
    with tempfile.TemporaryDirectory(prefix="cbbench-restore-") as tmp:
        work = Path(tmp)
        inputs = _make_inputs(ctx, work)
        raw = inputs["raw"]
        tools = _tools(ctx, work, inputs)
        print(
            f"\nrestore of {ctx.database}: {ctx.rows:,} generated rows + sakila, {ctx.repeat} runs per tool"
        )
        print(rows_path(ctx))
        for round_ in range(ctx.repeat):
            for tool in tools:
                _drop(ctx, TARGET)
                if tool.name.startswith("zstd -dc"):
                    _create(ctx, TARGET)  # the client loads into an existing database
                tool.runs.append(tool.run(TARGET))
                print(f"  run {round_ + 1}: {tool.name:<34} {tool.runs[-1].seconds:7.2f} s", flush=True)
        _drop(ctx, TARGET)
        _report(tools, float(raw))
        _splitter(work / "dump.sql.zst", raw)


def _make_inputs(ctx: BenchContext, work: Path) -> dict[str, str | int]:
    print("restore inputs: our backup, mysqldump | zstd, mydumper ...", flush=True)
    out = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", "backup", "--db-url", ctx.url(ctx.database),
         "--data", str(work / "store"), "--json"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    (backup,) = json.loads(out)
    dump = work / "dump.sql.zst"
    measure(  # measure() runs a string as a bash pipeline, failing if any stage fails
        f"{ctx.shell('mysqldump')} --single-transaction --hex-blob --routines --events --triggers "
        f"{shlex.quote(ctx.database)} | zstd -q -3 > {shlex.quote(str(dump))}"
    )
    raw = sum(len(c) for c in zstandard.ZstdDecompressor().read_to_iter(dump.open("rb")))
    inputs: dict[str, str | int] = {"backup": str(backup["id"]), "raw": raw}
    if shutil.which("mydumper") and shutil.which("myloader") and ctx.server == "mariadb":
        done = subprocess.run(
            ["mydumper", *ctx.client_args(), "-B", ctx.database, "-o", str(work / "mydumper"),
             "-G", "-E", "-R", "--trx-consistency-only"],
            capture_output=True,
        )  # fmt: skip
        if done.returncode == 0:
            inputs["mydumper"] = str(work / "mydumper")
        else:
            print(f"mydumper failed ({done.returncode}), no myloader row: {done.stderr.decode()[-300:]}")
    return inputs


def _tools(ctx: BenchContext, work: Path, inputs: dict[str, str | int]) -> list[Tool]:
    dump = shlex.quote(str(work / "dump.sql.zst"))

    def ours(backup: str, jobs: int) -> Callable[[str], Measurement]:
        def restore(target: str) -> Measurement:
            return measure(
                [sys.executable, "-m", "cloudbackup.cli.main", "restore", "--db-url", ctx.url(), "--backup",
                 backup, "--target-database", target, "--data", str(work / "store"), "--jobs", str(jobs)]
            )  # fmt: skip

        return restore

    def client(target: str) -> Measurement:
        return measure(f"zstd -dc {dump} | {ctx.shell('mysql')} {shlex.quote(target)}")

    def myloader(target: str) -> Measurement:
        return measure(
            ["myloader", *ctx.client_args(), "-d", str(inputs["mydumper"]), "-B", target, "-t", "2"]
        )

    tools = [
        Tool("cloudbackup restore (jobs 2)", ours(str(inputs["backup"]), 2)),
        Tool("cloudbackup restore mysqldump file", ours(str(work / "dump.sql.zst"), 2)),
        Tool("zstd -dc dump.sql.zst | mysql", client),
    ]
    if "mydumper" in inputs:
        tools.append(Tool("myloader (2 threads)", myloader))
    return tools


def _report(tools: list[Tool], raw: float) -> None:
    ours = tools[0]
    columns = ("seconds", 8), ("best", 7), ("MB/s", 7), ("peak RSS MB", 12), ("ratio", 6)
    print(f"\n{'tool':<34} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for tool in tools:
        print(
            f"{tool.name:<34} {tool.seconds:8.2f} {min(m.seconds for m in tool.runs):7.2f} "
            f"{raw / 1e6 / tool.seconds:7.1f} {tool.rss:12.1f} {tool.seconds / ours.seconds:6.2f}"
        )
    print("(seconds: median of the runs; MB/s: uncompressed mysqldump SQL per second; ratio: tool / ours)")
    client = next(t for t in tools if t.name.startswith("zstd -dc"))
    checks = [
        (f"time ≤ {MAX_RATIO_CLIENT} × zstd -dc | mysql", ours.seconds / client.seconds, MAX_RATIO_CLIENT),
        (f"peak RSS ≤ {MAX_RSS_MB} MB", ours.rss / MAX_RSS_MB, 1.0),
    ]
    for label, value, bound in checks:
        print(f"  {label:<36} {value:6.2f} (bound {bound})  {'met' if value <= bound else 'NOT MET'}")


def _splitter(dump: Path, raw: int) -> None:
    """The splitter alone over the decompressed mysqldump file, in 1 MiB chunks (best of 3)."""
    best = float("inf")
    count = 0
    for _ in range(3):
        chunks = zstandard.ZstdDecompressor().read_to_iter(
            dump.open("rb"), read_size=1 << 20, write_size=1 << 20
        )
        data = list(chunks)  # decompress first: time the splitting alone
        started = time.perf_counter()
        count = sum(1 for _ in split_statements(data))
        best = min(best, time.perf_counter() - started)
    rate = raw / 1e6 / best
    verdict = "met" if rate >= MIN_SPLITTER_MB_S else "NOT MET"
    print(
        f"\nsplitter: {raw / 1e6:.1f} MB of mysqldump SQL, {count:,} statements in {best:.2f} s "
        f"= {rate:.0f} MB/s  (bound ≥ {MIN_SPLITTER_MB_S} MB/s)  {verdict}"
    )


def rows_path(ctx: BenchContext) -> str:
    """How our restore sends rows on this server (see functions/cloudbackup/mysql/load.py)."""
    with _connect(ctx) as conn:
        settings = data_settings(conn)
    if not settings.local_infile:
        return "our rows go as INSERTs: the server's local_infile is off"
    return (
        "our rows go as LOAD DATA LOCAL (local_infile on; innodb_autoinc_lock_mode "
        f"{settings.autoinc_lock_mode}: "
        + (
            "all tables)"
            if settings.loads_overlap
            else "tables with AUTO_INCREMENT as INSERTs over several connections)"
        )
    )


def _connect(ctx: BenchContext) -> pymysql.Connection:  # type: ignore[type-arg]
    s = ctx.settings
    return pymysql.connect(host=s.host, port=s.port, user=s.user, password=s.password, autocommit=True)


def _drop(ctx: BenchContext, name: str) -> None:
    with _connect(ctx) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _create(ctx: BenchContext, name: str) -> None:
    with _connect(ctx) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
