"""Backup benchmark: cloudbackup beside mysqldump | gzip, mysqldump | zstd and mydumper.

Every tool dumps the same database (generated table + sakila) from the same server, in the same run,
interleaved (tool A, B, C, D, then again), so a busy machine slows them all alike. Reported: median wall
seconds, throughput of the logical data (uncompressed SQL MB / s, the same numerator for every tool),
output size, peak RSS, and each tool's time relative to ours.
"""

from __future__ import annotations

import json
import shlex
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.dataset import BenchContext
from bench.measure import Measurement, Runs, measure

# The targets for our backup.
MAX_RATIO_GZIP = 0.6
MAX_RATIO_ZSTD = 1.0
MAX_RSS_MB = 150


@dataclass
class Tool:
    name: str
    run: Callable[[Path], Measurement]  # dumps into the given empty directory
    runs: Runs = field(default_factory=Runs)
    sizes: list[int] = field(default_factory=list)


def run(ctx: BenchContext) -> None:
    raw_bytes: list[int] = []
    mysqldump = f"{ctx.shell('mysqldump')} --single-transaction --hex-blob --routines --events --triggers"

    def ours(out: Path) -> Measurement:
        m = measure(
            [sys.executable, "-m", "cloudbackup.cli.main", "backup", "--db-url", ctx.url(ctx.database),
             "--data", str(out), "--json"]
        )  # fmt: skip
        (backup,) = json.loads(m.stdout)
        manifest = json.loads(Path(backup["manifest"]).read_bytes())
        raw_bytes.append(sum(f["raw_length"] for f in manifest["frames"]))
        files = sorted(p.name for p in out.rglob("*") if p.is_file())
        assert len(files) == 2, f"the store holds more than the data object and its manifest: {files}"
        return m

    def pipeline(compressor: str) -> Callable[[Path], Measurement]:
        def dump(out: Path) -> Measurement:
            target = shlex.quote(str(out / "dump.sql"))
            return measure(f"{mysqldump} {shlex.quote(ctx.database)} | {compressor} > {target}")

        return dump

    def mydumper(out: Path) -> Measurement:
        return measure(
            ["mydumper", "-h", ctx.settings.host, "-P", str(ctx.settings.port), "-u", ctx.settings.user,
             *(["-p", ctx.settings.password] if ctx.settings.password else []),
             "-B", ctx.database, "-o", str(out / "mydumper"), "-c", "-G", "-E", "-R",
             "--trx-consistency-only"]
        )  # fmt: skip

    tools = [
        Tool("cloudbackup (zstd)", ours),
        Tool("mysqldump | gzip", pipeline("gzip -6")),
        Tool("mysqldump | zstd", pipeline("zstd -q -3")),
    ]
    if shutil.which("mydumper") and ctx.server == "mariadb":  # built for MariaDB's client library
        tools.append(Tool("mydumper -c (4 threads)", mydumper))
    print(f"\nbackup of {ctx.database}: {ctx.rows:,} generated rows + sakila, {ctx.repeat} runs per tool")
    for round_ in range(ctx.repeat):
        for tool in tools:
            with tempfile.TemporaryDirectory(prefix="cbbench-") as tmp:
                out = Path(tmp)
                seconds = tool.runs.add(tool.run(out)).seconds
                tool.sizes.append(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()))
            print(f"  run {round_ + 1}: {tool.name:<26} {seconds:7.2f} s", flush=True)
    _report(tools, statistics.median(raw_bytes))


def _report(tools: list[Tool], raw: float) -> None:
    ours = tools[0]
    columns = ("seconds", 8), ("best", 7), ("MB/s", 7), ("output MB", 10), ("peak RSS MB", 12), ("ratio", 6)
    print(f"\n{'tool':<26} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for tool in tools:
        runs, size_mb = tool.runs, statistics.median(tool.sizes) / 1e6
        print(
            f"{tool.name:<26} {runs.seconds:8.2f} {runs.best:7.2f} {raw / 1e6 / runs.seconds:7.1f} "
            f"{size_mb:10.1f} {runs.rss:12.1f} {runs.seconds / ours.runs.seconds:6.2f}"
        )
    print("(seconds: median of the runs; MB/s: uncompressed SQL of our dump per second; ratio: tool / ours)")
    by_name = {t.name: t for t in tools}
    gzip_, zstd_ = by_name["mysqldump | gzip"], by_name["mysqldump | zstd"]
    checks = [
        (
            f"time ≤ {MAX_RATIO_GZIP} × mysqldump | gzip",
            ours.runs.seconds / gzip_.runs.seconds,
            MAX_RATIO_GZIP,
        ),
        (
            f"time ≤ {MAX_RATIO_ZSTD} × mysqldump | zstd",
            ours.runs.seconds / zstd_.runs.seconds,
            MAX_RATIO_ZSTD,
        ),
        (
            "output ≤ gzip -6 of mysqldump",
            statistics.median(ours.sizes) / statistics.median(gzip_.sizes),
            1.0,
        ),
        (f"peak RSS ≤ {MAX_RSS_MB} MB", ours.runs.rss / MAX_RSS_MB, 1.0),
    ]
    for label, value, bound in checks:
        verdict = "met" if value <= bound else "NOT MET"
        print(f"  {label:<36} {value:6.2f} (bound {bound})  {verdict}")
