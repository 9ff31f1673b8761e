"""A restore's memory stays bounded whatever its input: a statement longer than the target server's
max_allowed_packet could never load, so it is refused as soon as it grows past that, never held whole
(a few KB of zstd can hold a statement of GBs); a legitimate big row just under the limit still loads."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.mysql import feed
from cloudbackup.restore import restore_dump_file
from tests.fixtures.mariadb import admin_connect, db_url

pytestmark = pytest.mark.integration

PEAK_RSS_PROMISE = 150 << 20  # what the README promises a restore's peak memory stays under
# Beyond the statement the splitter may hold (up to max_allowed_packet): the interpreter and its modules
# (~45 MB), the decoded pieces waiting, the buffer's growth.
PEAK_MARGIN = 96 << 20
BEYOND_THE_LIMIT = 256 << 20  # how much longer than the limit the endless statement is: more than the margin
# Runs the command in this process and reports its peak memory, and its children's (the check's lane).
# Its own peak is the kernel's high-water mark of its address space (VmHWM), not ru_maxrss: Linux carries
# ru_maxrss over an exec, and a child started by vfork and exec (as subprocess starts it) begins with its
# parent's peak, here pytest's, which earlier tests of the session (rows of 16 to 96 MB) raise to hundreds
# of MB (250 MB after the tests of long rows). The lane's ru_maxrss starts from this process's address
# space, so it tells its own.
_MEASURED = (
    "import resource, sys\n"
    "from cloudbackup.cli.main import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "with open('/proc/self/status') as status:\n"
    "    own = next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))\n"
    "peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "print(f'peak {peak * 1024}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def max_packet(settings: DbSettings) -> int:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_allowed_packet")
        return int(cur.fetchone()[0])


def write_zstd(path: Path, head: bytes, filler: bytes, size: int, tail: bytes = b"") -> None:
    """head, `size` bytes of filler, tail: compressed as they are made, never held whole."""
    c = zstandard.ZstdCompressor().compressobj()
    with path.open("wb") as f:
        f.write(c.compress(head))
        piece = filler * ((1 << 20) // len(filler))
        for _ in range(size // len(piece)):
            f.write(c.compress(piece))
        f.write(c.compress(filler * ((size % len(piece)) // len(filler)) + tail))
        f.write(c.flush())


def databases_like(settings: DbSettings, prefix: str) -> list[str]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (prefix + "%",)
        )
        return sorted(r[0] for r in cur.fetchall())


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_endless_statement_in_a_small_file_is_refused_within_the_memory_promise(
    db_settings, make_database, tmp_path, dry_run
):
    # Given a file of a few KB holding a string that never closes, 256 MiB longer than the server's
    # max_allowed_packet (whatever an earlier test left it at): held whole, it would outgrow the bound below
    limit = max_packet(db_settings)
    path = tmp_path / "endless.sql.zst"
    write_zstd(path, b"CREATE TABLE t (b longblob);\nINSERT INTO t VALUES ('", b"a", limit + BEYOND_THE_LIMIT)
    assert path.stat().st_size < 64 << 10
    target = make_database("rmem")
    # When it is restored (or dry run) with the command, its peak memory measured
    args = ["restore", "--db-url", db_url(db_settings), "--backup", str(path), "--target-database", target]
    args += ["--data", str(tmp_path / "data"), *(["--dry-run"] if dry_run else [])]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args], capture_output=True, text=True, check=False, timeout=300
    )
    # Then it is refused in one line naming the statement, the server's limit and how to raise it
    said, peak = done.stderr.strip().split("\n")
    assert done.returncode == 1
    assert f"statement 2 (line 2) is longer than the server's max_allowed_packet ({limit:,} bytes)" in said
    assert "raise max_allowed_packet" in said
    # And the statement was never held whole: memory stayed under the limit and a fixed margin (within
    # the README's promise where the server takes statements of up to 16 MB, MariaDB's default)
    assert int(peak.removeprefix("peak ")) < limit + PEAK_MARGIN
    if limit <= 16 << 20:
        assert int(peak.removeprefix("peak ")) < PEAK_RSS_PROMISE
    # And nothing changed: the target is empty, no staging database is left beside it
    assert databases_like(db_settings, target) == [target]
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW TABLES FROM `{target}`")
        assert cur.fetchall() == ()


def test_a_row_just_under_the_servers_limit_still_restores(db_settings, make_database, tmp_path):
    # Given a dump file whose one row is a blob just under the server's max_allowed_packet (60 MB of
    # MySQL's default 64 MB; 15 MB of MariaDB's 16 MB)
    limit = max_packet(db_settings)
    size = limit - (limit >> 4)
    path = tmp_path / "big_row.sql.zst"
    head = b"CREATE TABLE t (id int PRIMARY KEY, b longblob);\nINSERT INTO t VALUES (1,'"
    write_zstd(path, head, b"0123456789abcdef", size, b"');\n")
    target = make_database("rrow")
    # When it is restored
    result = restore_dump_file(db_settings, str(path), target_database=target)
    # Then the row is there, whole
    assert result.rows == 1
    with admin_connect(db_settings, target) as conn, conn.cursor() as cur:
        cur.execute("SELECT LENGTH(b), SHA2(b, 256) FROM t")
        length, digest = cur.fetchone()
    assert length == size // 16 * 16
    assert digest == hashlib.sha256(b"0123456789abcdef" * (size // 16)).hexdigest()


def test_a_dump_holding_back_more_events_than_the_bound_is_refused_before_publishing(
    db_settings, make_database, tmp_path, monkeypatch
):
    # Given a dump whose CREATE EVENT statements (held back in memory until the tables are published)
    # come to more than the bound, here made small: a few KB of zstd could hold millions of them
    monkeypatch.setattr(feed, "HELD_EVENTS_MAX_BYTES", 8 << 10)
    events = b"".join(
        b"CREATE EVENT e%d ON SCHEDULE AT '2030-01-01 00:00:00' DO DELETE FROM t;\n" % i for i in range(40)
    )
    path = tmp_path / "events.sql"
    path.write_bytes(b"CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n" + events)
    target = make_database("rev")
    # When it is restored
    with pytest.raises(OperationError, match=r"CREATE EVENT statements .* more than 8,192 bytes") as refused:
        restore_dump_file(db_settings, str(path), target_database=target)
    # Then it is refused in one line, the target untouched and no staging database left
    assert "\n" not in str(refused.value)
    assert f"{target} was left as it was" in str(refused.value)
    assert databases_like(db_settings, target) == [target]
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW TABLES FROM `{target}`")
        assert cur.fetchall() == ()
