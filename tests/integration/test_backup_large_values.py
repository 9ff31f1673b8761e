"""A value the server cannot format within max_allowed_packet fails the backup; it never becomes NULL."""

from __future__ import annotations

import pytest

from cloudbackup.backup import backup_database
from cloudbackup.catalog import list_backups
from cloudbackup.errors import OperationError
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.mariadb import admin_connect

pytestmark = pytest.mark.integration


def test_a_blob_whose_hex_exceeds_max_allowed_packet_fails_the_backup_instead_of_dumping_null(
    db_settings, make_database, tmp_path
):
    # Given a nullable blob whose hex form is longer than the server's max_allowed_packet, beside a small one
    name = make_database("bigval")
    with admin_connect(db_settings, name) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@max_allowed_packet")
        packet = cur.fetchone()[0]
        cur.execute("CREATE TABLE b (id INT PRIMARY KEY, v LONGBLOB NULL)")
        cur.execute("INSERT INTO b VALUES (1, REPEAT(x'ab', %s))", (packet // 2 + 1024,))
        cur.execute("INSERT INTO b VALUES (2, x'01')")  # read in the same range as the big one
    store = LocalStorage(tmp_path)
    # When it is backed up
    with pytest.raises(OperationError, match="larger than"):
        backup_database(db_settings, name, store, source="t")
    # Then the backup fails loudly and nothing is listed (before, the value was silently written as NULL)
    assert list_backups([store]) == []
