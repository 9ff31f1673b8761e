"""Cold start of the Lambda handlers: the time to import each entry point's module in a fresh interpreter.

Lambda imports the handler module during the function's init phase; the target is 300 ms on this
machine. Each module is imported REPEAT times (the cases interleaved), each in a new interpreter with
the environment the infrastructure sets, and the median is reported beside two peers measured in the
same run: the floor of any Powertools handler with a typed event, and an "eager" handler that imports
what ours defers (boto3, the MySQL driver, compression, the X-Ray SDK) up front. The second column is
what the first invocation pays on top, for the imports the handlers make on first use.

Run: `python -m bench --only cold_start` (with the other benchmarks), or alone `python -m bench.cold_start`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_COLD_START_REPEAT", "9"))
TARGET_MS = 300.0

ENVIRONMENT = {
    "CLOUDBACKUP_BUCKET": "bench-bucket",
    "CLOUDBACKUP_PREFIX": "backups",
    "CLOUDBACKUP_EVENT_BUS": "default",
    "CLOUDBACKUP_SOURCES": json.dumps(
        {"orders-db": {"secret_arn": "arn:aws:secretsmanager:x", "databases": "*"}}
    ),
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "cloudbackup",
    "POWERTOOLS_METRICS_NAMESPACE": "CloudBackup",
}

# Timed inside the child so interpreter start-up is not counted; `first use` imports what the handler
# defers until its first invocation.
_PROBE = """
import sys, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{first_use}
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""
FIRST_USE = (
    "import boto3, cloudbackup.storage.s3, pymysql, zstandard\n"
    "from aws_lambda_powertools import Tracer\n"
    "Tracer(service='cloudbackup', patch_modules=['botocore'])"
)
CASES = {
    # The floor for any Powertools handler with a typed event: Logger, Metrics and one pydantic model.
    "floor: Logger + Metrics + 1 pydantic model": (
        "from aws_lambda_powertools import Logger, Metrics\n"
        "from pydantic import BaseModel\n"
        "class Event(BaseModel):\n    source: str\n"
        "Logger(service='cloudbackup'); Metrics(namespace='CloudBackup', service='cloudbackup')",
        "pass",
    ),
    "handlers.backup": ("import handlers.backup", FIRST_USE),
    "handlers.restore": ("import handlers.restore", FIRST_USE),
    "eager handler (everything at import)": (
        "import handlers.backup\n" + FIRST_USE,
        "pass",
    ),
}


def sample(imports: str, first_use: str) -> tuple[float, float]:
    """(import ms, first-use ms) of one fresh interpreter."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **ENVIRONMENT}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(imports=imports, first_use=first_use)],
        cwd=REPO / "functions",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> int:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"cold start: module import in a fresh interpreter, median of {REPEAT} (target <= {TARGET_MS:.0f} ms)"
    )
    print(f"load average before the run: {load} (the cases are interleaved, so load hits them alike)")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    for _ in range(REPEAT):
        for name, (imports, first_use) in CASES.items():
            samples[name].append(sample(imports, first_use))
    print(f"{'case':<40} {'import ms':>10} {'first use ms':>13}")
    worst = 0.0
    for name, runs in samples.items():
        import_ms = statistics.median(r[0] for r in runs)
        first_ms = statistics.median(r[1] for r in runs)
        print(f"{name:<40} {import_ms:>10.1f} {first_ms:>13.1f}")
        if name.startswith("handlers."):
            worst = max(worst, import_ms)
    verdict = "meets" if worst <= TARGET_MS else "MISSES"
    print(f"slowest handler import {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    return 0 if worst <= TARGET_MS else 1


def run(ctx: object) -> None:
    """Entry point of `python -m bench`; needs no data set."""
    main()


if __name__ == "__main__":
    raise SystemExit(main())
