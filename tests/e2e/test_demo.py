"""`make demo` end to end: the README's command one must work on this machine and clean up after itself."""

import os
import re
import socket
import subprocess
import sys

import pytest

from tests.fixtures.mariadb import admin_connect, db_url

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sample", ["auto", "generated"])
def test_the_demo_backs_up_to_local_s3_restores_and_every_table_matches(db_settings, sample):
    # When the demo runs (as `make demo` runs it) on the server under test, with sakila or its own sample
    env = {**os.environ, "CLOUDBACKUP_DEMO_SAMPLE": sample, "CLOUDBACKUP_DEMO_DB_URL": db_url(db_settings)}
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.demo"], capture_output=True, text=True, env=env, timeout=900
    )
    out = result.stdout
    # Then it exits 0 with every table matching, after the operator's commands ran for real
    assert result.returncode == 0, out + result.stderr
    match = re.search(r"^OK: (\d+)/(\d+) tables match", out, re.MULTILINE)
    assert match, out
    assert match.group(1) == match.group(2)
    assert int(match.group(1)) >= 4
    for command in ("backup", "list", "verify", "restore"):
        assert f"$ cloudbackup {command} " in out
    assert "--backup-bucket s3://cloudbackup-demo/demo --backup-region us-east-1 --backup-credential" in out
    # And it cleaned up: its databases are dropped and the endpoint is gone
    source = re.search(r"sample database (cbt_demo_\w+)", out).group(1)
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s", (source + "%",)
        )
        assert cur.fetchone()[0] == 0
    port = int(re.search(r"local S3 endpoint http://127\.0\.0\.1:(\d+)", out).group(1))
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
