"""A point-in-time replay holds at most a part of one statement's row events, never the statement whole:
a bulk INSERT … SELECT logs one statement of as many rows events as it likes (one GB of them), ended by
the last one's STMT_END flag, and each part is sent as soon as it is full."""

from __future__ import annotations

import pytest

from cloudbackup.binlog import events as ev
from cloudbackup.binlog import replay
from cloudbackup.binlog.pitr import restore_to_time
from cloudbackup.storage.local import LocalStorage
from tests.fixtures.compare import q
from tests.fixtures.mariadb import admin_connect
from tests.integration.pitr_helpers import bulk_insert_archived

pytestmark = pytest.mark.integration

PART_BYTES = 256 << 10  # row event bytes per BINLOG statement, made small here (half the packet, else)


def test_a_statement_of_many_row_events_is_replayed_whole_holding_one_part_at_a_time(
    log_server, make_log_database, tmp_path, monkeypatch
):
    # Given a database backed up, then one INSERT … SELECT whose row events (~7 MiB) come to many parts
    db, target = make_log_database("pmem_bulk"), make_log_database("pmem_bulk_target")
    store = LocalStorage(tmp_path / "store")
    to_time = bulk_insert_archived(log_server, db, store)
    # When the database is restored to a time after it, the row events held measured after each event
    monkeypatch.setattr(replay, "rows_part_bytes", lambda _packet: PART_BYTES)
    held: list[int] = []
    largest: list[int] = [0]
    one = replay.Replayer._one

    def measured(self: replay.Replayer, event: ev.Event) -> bool:
        done = one(self, event)
        held.append(sum(len(e.raw) for e in self.pending if e.type in ev.ROWS_EVENTS))
        largest[0] = max([largest[0], *(len(e.raw) for e in self.pending)])
        return done

    monkeypatch.setattr(replay.Replayer, "_one", measured)
    result = restore_to_time(log_server, [store], db, to_time, target_database=target)
    # Then every row of it is there, bit for bit, replayed as the one statement it was
    assert result.binlog_transactions == 1
    assert result.binlog_statements == 1
    with admin_connect(log_server) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {q(db)}.t WHERE id = 0")
        cur.execute(f"CHECKSUM TABLE {q(db)}.t, {q(target)}.t")
        (_, source_sum), (_, restored_sum) = cur.fetchall()
    assert restored_sum == source_sum
    # And no more than a part of its row events (and the one event that filled it) was ever held
    assert 0 < largest[0] < PART_BYTES
    assert max(held) <= PART_BYTES + largest[0], f"{max(held):,} bytes of row events held at once"
