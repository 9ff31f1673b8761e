"""`make demo`: the main job end to end on local defaults, with the operator's flags.

A local S3 endpoint (moto server on loopback) with a versioned bucket; a sample database; a generated
AWS credentials file; then the real `cloudbackup` command: backup to S3, list, restore into a new
database; every table's CHECKSUM compared with the source. Cleans up after itself (its databases, the
endpoint, its files) and exits 0 only if everything matched. Never touches real AWS or ~/.aws.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from cloudbackup.dburl import DbSettings, parse_db_url
from cloudbackup.errors import CloudBackupError
from tests.e2e.demo_sample import load_sample
from tests.fixtures.aws import isolated_aws_environment, running_moto_server, write_key_file
from tests.fixtures.mariadb import admin_connect, db_url

REGION = "us-east-1"
BUCKET = "cloudbackup-demo"
PREFIX = "demo"
DB_URL = os.environ.get("CLOUDBACKUP_DEMO_DB_URL", "mysql://root@127.0.0.1:3306")
SAMPLE = os.environ.get("CLOUDBACKUP_DEMO_SAMPLE", "auto")  # sakila | generated | auto
# The local endpoint accepts any key; these are made up for the demo and mean nothing anywhere else.
DEMO_KEY_ID, DEMO_SECRET = "AKIADEMO0CLOUDBACKUP", "demo-secret-" + secrets.token_hex(8)


class DemoFailed(Exception):
    pass


@dataclass
class TableCheck:
    name: str
    rows: int
    source: str
    restored: str | None

    @property
    def matched(self) -> bool:
        return self.source == self.restored


def say(text: str = "") -> None:
    print(text, flush=True)


@contextlib.contextmanager
def local_s3(workdir: Path) -> Iterator[str]:
    """A moto server on a free loopback port; this process and the CLI it runs never see ~/.aws."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    isolated = workdir / "empty-aws-config"
    isolated.mkdir()
    os.environ.update(isolated_aws_environment(str(isolated)))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the demo's output
    with running_moto_server() as endpoint:
        yield endpoint


def create_bucket(endpoint: str) -> None:
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=DEMO_KEY_ID,
        aws_secret_access_key=DEMO_SECRET,
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def run_cli(args: Sequence[str], *, quiet: bool = False) -> str:
    """Run the real command line; print it as an operator would type it, and what it printed."""
    if not quiet:
        say("  $ cloudbackup " + " ".join(args))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args], capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        raise DemoFailed(f"`cloudbackup {args[0]}` exited {result.returncode}: {result.stderr.strip()}")
    if not quiet:
        for line in result.stdout.strip().splitlines()[:12]:
            say("    " + line)
        say(f"    ({time.monotonic() - started:.1f} s)")
    return result.stdout


def table_checksums(settings: DbSettings, database: str) -> dict[str, tuple[int, str]]:
    """{table: (rows, checksum)} for every base table: CHECKSUM TABLE ... EXTENDED, except for tables
    with generated columns, where MariaDB's CHECKSUM TABLE differs between copies holding the same rows
    (seen on 10.11 with VIRTUAL columns), so their rows are hashed here instead."""
    with admin_connect(settings, database) as conn, conn.cursor() as cur:
        cur.execute(
            # GENERATION_EXPRESSION: NULL (MariaDB) or '' (MySQL) on a column that is not generated
            "SELECT t.table_name, MAX(COALESCE(c.generation_expression, '') <> '') "
            "FROM information_schema.tables t "
            "JOIN information_schema.columns c USING (table_schema, table_name) "
            "WHERE t.table_schema = %s AND t.table_type = 'BASE TABLE' GROUP BY t.table_name ORDER BY 1",
            (database,),
        )
        tables = [(str(name), bool(generated)) for name, generated in cur.fetchall()]
        result: dict[str, tuple[int, str]] = {}
        for table, generated in tables:
            quoted = "`" + table.replace("`", "``") + "`"
            cur.execute(f"SELECT COUNT(*) FROM {quoted}")
            (rows,) = cur.fetchone()
            if generated:
                result[table] = (int(rows), rows_digest(cur, quoted))
            else:
                cur.execute(f"CHECKSUM TABLE {quoted} EXTENDED")
                result[table] = (int(rows), f"checksum {cur.fetchone()[1]}")
        return result


def rows_digest(cur: Any, quoted: str) -> str:
    """SHA-256 over every row in a fixed order (all columns, so the order is total)."""
    cur.execute(f"SELECT * FROM {quoted} LIMIT 0")
    count = len(cur.description)
    cur.execute(f"SELECT * FROM {quoted} ORDER BY " + ", ".join(str(i + 1) for i in range(count)))
    digest = hashlib.sha256()
    for row in cur.fetchall():
        digest.update(repr(row).encode())
    return "sha256 " + digest.hexdigest()


def object_counts(settings: DbSettings, database: str) -> dict[str, int]:
    queries = {
        "views": "SELECT COUNT(*) FROM information_schema.views WHERE table_schema = %s",
        "routines": "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = %s",
        "triggers": "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = %s",
    }
    with admin_connect(settings) as conn, conn.cursor() as cur:
        counts = {}
        for kind, sql in queries.items():
            cur.execute(sql, (database,))
            counts[kind] = int(cur.fetchone()[0])
        return counts


def compare(settings: DbSettings, source: str, restored: str) -> tuple[list[TableCheck], bool]:
    before, after = table_checksums(settings, source), table_checksums(settings, restored)
    checks = [
        TableCheck(name, rows, checksum, after.get(name, (0, None))[1])
        for name, (rows, checksum) in before.items()
    ]
    objects_match = object_counts(settings, source) == object_counts(settings, restored)
    return checks, objects_match and set(before) == set(after)


def drop_databases(settings: DbSettings, names: Sequence[str]) -> None:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        for name in names:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def demo() -> int:
    settings = parse_db_url(DB_URL)
    try:
        with admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            version = cur.fetchone()[0]
    except Exception as exc:
        say(f"demo: cannot reach the database at {DB_URL} ({exc}); set CLOUDBACKUP_DEMO_DB_URL")
        return 2
    tag = secrets.token_hex(4)
    source, restored = f"cbt_demo_{tag}", f"cbt_demo_{tag}_restored"
    say(f"cloudbackup demo — server {version} at {settings.host}:{settings.port}")
    with tempfile.TemporaryDirectory(prefix="cloudbackup-demo-") as tmp:
        workdir = Path(tmp)
        try:
            with local_s3(workdir) as endpoint:
                return run_demo(settings, endpoint, workdir, source, restored)
        except (DemoFailed, CloudBackupError) as exc:
            say(f"\nFAILED: {exc}")
            return 1
        finally:
            drop_databases(settings, [source, restored])
            say(f"cleaned up: dropped {source} and {restored}, stopped the local S3 endpoint")


def run_demo(settings: DbSettings, endpoint: str, workdir: Path, source: str, restored: str) -> int:
    create_bucket(endpoint)
    say(f"  local S3 endpoint {endpoint}, versioned bucket s3://{BUCKET}")
    loaded = load_sample(settings, source, SAMPLE)
    say(f"  sample database {source} ({loaded})")
    credentials = workdir / "credentials"
    write_key_file(credentials, DEMO_KEY_ID, DEMO_SECRET)
    say(f"  credentials file {credentials} ([default] profile)")
    storage = [
        "--backup-bucket", f"s3://{BUCKET}/{PREFIX}",
        "--backup-region", REGION,
        "--backup-credential", str(credentials),
        "--backup-endpoint", endpoint,
        "--data", str(workdir / "data"),
    ]  # fmt: skip
    url = db_url(settings)
    say()
    run_cli(["backup", "--db-url", url, "--database", source, *storage])
    run_cli(["list", "--database", source, *storage])
    listed = json.loads(run_cli(["list", "--json", "--database", source, *storage], quiet=True))
    if not listed or listed[0]["store"] != "s3":
        raise DemoFailed(f"the backup is not listed in S3: {listed}")
    backup = listed[0]
    run_cli(["verify", "--backup", "latest", "--database", source, *storage])
    target = ["--backup", "latest", "--database", source, "--target-database", restored]
    run_cli(["restore", "--db-url", url, *target, *storage])
    checks, objects_match = compare(settings, source, restored)
    say()
    width = max(len(c.name) for c in checks)
    say(f"  {'table'.ljust(width)}  {'rows':>8}  checksum")
    for c in checks:
        how = "rows hashed: generated columns" if c.source.startswith("sha256") else "CHECKSUM TABLE"
        say(f"  {c.name.ljust(width)}  {c.rows:>8}  {'match' if c.matched else 'MISMATCH'} ({how})")
    matched = sum(c.matched for c in checks)
    ok = matched == len(checks) and objects_match
    say()
    say(
        f"{'OK' if ok else 'FAILED'}: {matched}/{len(checks)} tables match "
        f"({sum(c.rows for c in checks)} rows; views, routines and triggers "
        f"{'match' if objects_match else 'DIFFER'}); "
        f"backup {backup['id']} is {backup['size']} bytes at {backup['location']}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(demo())
