"""Point-in-time benchmark: archive throughput, and replay beside `mariadb-binlog | mariadb`.

`python -m bench.pitr --db-url mysql://root@127.0.0.1:PORT [--rows N]` on a MariaDB with its binary
log on in ROW format. A database with one table is backed up empty, then N rows are inserted and
updated (2N row changes, 1,000 per statement); the binlog is archived with `cloudbackup binlog
archive`, then replayed twice into new databases: by `cloudbackup restore --to-time` (the empty backup
plus the replay) and by `mariadb-binlog --read-from-remote-server --rewrite-db | mariadb` from the same
position into a copy of the empty table. Both results are checked equal. Reported: wall seconds, MB/s of
binlog, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pymysql

from bench.measure import measure
from cloudbackup.dburl import parse_db_url

CHUNK = 1000
SRC, OURS, PEER = "cbbench_pitr_src", "cbbench_pitr_ours", "cbbench_pitr_peer"
TABLE = "CREATE TABLE t (id INT PRIMARY KEY, a INT, b DOUBLE, c VARCHAR(40)) ENGINE=InnoDB"


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pitr")
    p.add_argument("--db-url", required=True)
    p.add_argument("--rows", type=int, default=500_000)
    args = p.parse_args()
    db = parse_db_url(args.db_url)
    conn = pymysql.connect(
        host=db.host, port=db.port, user=db.user, password=db.password or "", autocommit=True
    )
    cur = conn.cursor()
    for name in (SRC, OURS, PEER):
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    cur.execute(f"CREATE DATABASE {SRC}")
    cur.execute(f"USE {SRC}")
    cur.execute(TABLE)
    cur.execute("FLUSH BINARY LOGS")
    cli = [sys.executable, "-m", "cloudbackup.cli.main"]
    with tempfile.TemporaryDirectory(prefix="cbbench-pitr-") as tmp:
        data = str(Path(tmp) / "data")
        measure([*cli, "backup", "--db-url", args.db_url, "--database", SRC, "--source", "b", "--data", data])
        cur.execute("SHOW MASTER STATUS")
        binlog_file, position = cur.fetchone()[:2]
        for start in range(0, args.rows, CHUNK):
            values = ", ".join(
                f"({i}, {i}, {i}/7, 'row {i}')" for i in range(start, min(start + CHUNK, args.rows))
            )
            cur.execute(f"INSERT INTO t VALUES {values}")
        for start in range(0, args.rows, CHUNK):
            cur.execute(f"UPDATE t SET a = a + 1, b = b * 3 WHERE id >= {start} AND id < {start + CHUNK}")
        time.sleep(1.1)
        to_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        time.sleep(1.1)
        cur.execute("CREATE TABLE after_t (id INT)")  # an event at or after the time ends the window
        archive = measure(
            [*cli, "binlog", "archive", "--db-url", args.db_url, "--source", "b", "--data", data, "--json"]
        )
        archived = json.loads(archive.stdout)
        ours = measure(
            [*cli, "restore", "--db-url", args.db_url, "--database", SRC, "--to-time", to_time,
             "--target-database", OURS, "--source", "b", "--data", data]
        )  # fmt: skip
        cur.execute(f"CREATE DATABASE {PEER}")
        cur.execute(f"CREATE TABLE {PEER}.t LIKE {SRC}.t")
        login = f"--host={db.host} --port={db.port} --user={db.user}" + (
            f" --password={shlex.quote(db.password)}" if db.password else ""
        )
        peer = measure(
            f"mariadb-binlog --read-from-remote-server {login} --start-position={position} "
            f"--stop-datetime='{to_time.replace('T', ' ').rstrip('Z')}' --database={SRC} "
            f"--rewrite-db='{SRC}->{PEER}' {binlog_file} | mariadb {login} {PEER}"
        )
    checksums = []
    for name in (SRC, OURS, PEER):
        cur.execute(f"CHECKSUM TABLE {name}.t EXTENDED")
        checksums.append(cur.fetchone()[1])
    assert checksums[0] == checksums[1] == checksums[2], checksums
    mb = archived["bytes"] / 1e6
    print(f"binlog: {archived['events']:,} events, {mb:.1f} MB, {2 * args.rows:,} row changes")
    print("| step | seconds | MB/s of binlog | peak RSS MB |\n|---|---|---|---|")
    for label, m in (
        ("archive (`binlog archive`)", archive),
        ("`restore --to-time` (ours)", ours),
        ("`mariadb-binlog \\| mariadb`", peer),
    ):
        print(f"| {label} | {m.seconds:.2f} | {mb / m.seconds:.1f} | {m.peak_rss_mb:.0f} |")
    print(f"ratio ours / peer: {ours.seconds / peer.seconds:.2f}")
    for name in (SRC, OURS, PEER):
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
