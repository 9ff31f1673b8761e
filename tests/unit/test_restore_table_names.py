"""`--table` and `--exclude-table` naming what the backup does not hold as a table: one line that says
what it holds instead (the name in another case, or that views come only with a whole restore)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudbackup.errors import UsageError
from cloudbackup.format.manifest import Frame
from cloudbackup.restore import frames_to_load, tables_except
from cloudbackup.storage.base import WrittenObject
from tests.fixtures.stores import make_manifest

WRITTEN = WrittenObject(key="k", size=10, sha256="0" * 64)
MANIFEST = make_manifest(
    "abcdef123456",
    "db1",
    "shop",
    datetime(2026, 12, 7, tzinfo=UTC),
    WRITTEN,
    frames=[
        Frame(kind="table", name="Orders", offset=0, length=5, rows=1),
        Frame(kind="views", name="", offset=5, length=5, rows=0),
    ],
)


@pytest.mark.parametrize(
    "choose",
    [
        lambda name: frames_to_load(MANIFEST, [name]),
        lambda name: tables_except(MANIFEST, None, [name]),
    ],
)
def test_a_table_named_in_another_case_says_which_name_the_backup_holds(choose):
    # Given a backup of table `Orders`, When `--table orders` (or --exclude-table) names it in another case
    with pytest.raises(UsageError) as raised:
        choose("orders")
    # Then the one line names the backup's own spelling (names are case-sensitive on the server)
    assert "has no such table" in str(raised.value)
    assert "'Orders'" in str(raised.value)


def test_a_name_that_is_no_table_says_views_come_only_with_a_whole_restore():
    # Given a backup with views, When `--table` names something that is no table (a view's name)
    with pytest.raises(UsageError) as raised:
        frames_to_load(MANIFEST, ["v_orders"])
    # Then the one line says --table restores tables, and views come with a whole restore
    assert "views" in str(raised.value)
    assert "\n" not in str(raised.value)
