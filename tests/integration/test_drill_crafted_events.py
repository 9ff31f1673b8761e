"""A drill's copy never holds an enabled event, however a crafted backup writes its CREATE EVENT: an
event is created DISABLED where the drill can make it so, and refused otherwise, never run."""

from __future__ import annotations

import pytest

from cloudbackup.drill.proof import DrillFailed
from cloudbackup.drill.run import run_drill
from cloudbackup.restore import publish, restore_backup
from tests.fixtures.mariadb import admin_connect, run_sql
from tests.integration.drill_helpers import rewrite_frame
from tests.integration.restore_helpers import back_up, schemas_like

pytestmark = pytest.mark.integration


def rewrite_events(entry, old: bytes, new: bytes):
    """The backup with `old` written as `new` in its events frame, its index, size and SHA-256 redone:
    a crafted backup, as consistent as one made by this tool."""
    return rewrite_frame(entry, lambda f: f.kind == "events", old, new)


def events_in(settings, database: str) -> list[tuple[str, str]]:
    with admin_connect(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT event_name, status FROM information_schema.events WHERE event_schema = %s", (database,)
        )
        return sorted(cur.fetchall())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # No status clause: the server's default, ENABLE
        (b" ON COMPLETION NOT PRESERVE ENABLE DO ", b" DO "),
        # A comment between CREATE and EVENT, which the drill's rewrite of the status did not look past
        (b"CREATE DEFINER=", b"CREATE /* crafted */ DEFINER="),
        # A comment holding the status clause before the real one: a rewrite of the first changes nothing
        (b" ON COMPLETION NOT PRESERVE ENABLE DO ", b" /* ON COMPLETION NOT PRESERVE ENABLE */ DO "),
    ],
    ids=["no-status", "comment-before-event", "status-in-a-comment"],
)
def test_a_crafted_backups_event_is_never_enabled_during_a_drill(
    db_settings, make_database, tmp_path, monkeypatch, old, new
):
    # Given a backup whose event is due every second, crafted to write its CREATE EVENT otherwise than
    # SHOW CREATE EVENT does
    source = make_database("dre")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE log (at int, what varchar(50))",
        "CREATE EVENT ev_now ON SCHEDULE EVERY 1 SECOND STARTS '2020-01-01' "
        "DO INSERT INTO log VALUES (1, 'x')",
    )
    entry = rewrite_events(back_up(db_settings, source, tmp_path), old, new)
    # When it is drilled, watching the events of the staging database as it is published, and of the
    # copy once restored
    seen: list[tuple[str, str]] = []

    def watching_publish(db, plan):
        seen.extend(events_in(db_settings, plan.staging))
        return publish(db, plan)

    def watching_restore(db, entry, *, target_database, **kwargs):
        restored = restore_backup(db, entry, target_database=target_database, **kwargs)
        seen.extend(events_in(db_settings, target_database))
        return restored

    monkeypatch.setattr("cloudbackup.restore.publish", watching_publish)
    monkeypatch.setattr("cloudbackup.drill.run.restore_backup", watching_restore)
    with pytest.raises(DrillFailed) as failed:
        run_drill(db_settings, entry)
    # Then no event was ever enabled, in staging or in the copy; the drill fails (the backup is not as
    # this tool writes it) in one line, and leaves nothing behind
    assert [status for _, status in seen if status != "DISABLED"] == []
    assert "\n" not in str(failed.value)
    assert schemas_like(db_settings, source) == [source]
