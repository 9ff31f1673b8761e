"""Rows changed by a statement a session logged as a statement (binlog_format STATEMENT or MIXED).

The archive refuses a server whose global binlog_format is not ROW, but any session may set its own.
Such a statement's rows are not in the binary log: the statement and the events beside it (the
AUTO_INCREMENT value it used, the file a LOAD DATA read) are, and running the statement again does
not give the same rows back. The restore refuses it in one line, never publishes other rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.binlog.archive import archive_binlog
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.integration.pitr_helpers import next_second, run, schema_exists

pytestmark = pytest.mark.integration

CSV_ROWS = "1,one\n2,two\n"


def _auto_increment_after_a_rollback(db: str, _: Path) -> list[str]:
    # The rolled-back insert used id 1 unlogged; the logged one used 2 (an Intvar event says so)
    return [
        "BEGIN",
        "INSERT INTO a (v) VALUES ('rolled back')",
        "ROLLBACK",
        "INSERT INTO a (v) VALUES ('kept')",
    ]


def _default_with_microseconds(db: str, _: Path) -> list[str]:
    return ["INSERT INTO u (id) VALUES (1)"]  # (the default: the statement's time to the microsecond)


def _load_data(db: str, csv: Path) -> list[str]:
    return [f"LOAD DATA INFILE '{csv}' INTO TABLE a FIELDS TERMINATED BY ','"]


@pytest.mark.parametrize("binlog_format", ["STATEMENT", "MIXED"])
@pytest.mark.parametrize(
    "statements",
    [_auto_increment_after_a_rollback, _default_with_microseconds, _load_data],
    ids=lambda f: f.__name__,
)
def test_rows_logged_as_a_statement_are_refused_not_replayed_otherwise(
    log_server, make_log_database, tmp_path, binlog_format, statements
):
    if statements is _load_data and binlog_format == "MIXED":
        pytest.skip("MIXED logs LOAD DATA as rows")
    # Given a backup, then rows changed by a session that logs statements
    db = make_log_database("stmt")
    run(
        log_server,
        "CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
        "CREATE TABLE u (id INT PRIMARY KEY, at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6))",
        database=db,
    )
    store = LocalStorage(tmp_path / "store")
    backup_database(log_server, db, store, source="src")
    csv = tmp_path / "rows.csv"
    csv.write_text(CSV_ROWS)
    tmp_path.chmod(0o755)  # (the server reads the file as its own user)
    csv.chmod(0o644)
    run(log_server, f"SET SESSION binlog_format = {binlog_format}", *statements(db, csv), database=db)
    to_time = next_second()
    run(log_server, "INSERT INTO u (id) VALUES (99)", database=db)  # (the archive reaches past T)
    archive_binlog(log_server, store, "src")
    # When the database is restored to a time after them
    target = db + "_t"
    with pytest.raises(OperationError, match=r"logged as a statement \(binlog_format STATEMENT or MIXED\)"):
        restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then it is refused in one line, and nothing is published (no row the source never had)
    assert not schema_exists(log_server, target)
