"""A view whose table was dropped is invalid: no restore can create it again. The backup says so."""

from __future__ import annotations

import logging

import pytest

from cloudbackup.verify import verify_backup
from tests.fixtures.mariadb import run_sql
from tests.integration.restore_helpers import back_up

pytestmark = pytest.mark.integration


def test_a_view_reading_a_dropped_table_is_warned_of(db_settings, make_database, tmp_path, caplog):
    # Given a view over a table since dropped, and a view reading it
    source = make_database("inv")
    run_sql(
        db_settings,
        source,
        "CREATE TABLE gone (a int)",
        "CREATE TABLE kept (b int)",
        "CREATE VIEW v_gone AS SELECT a FROM gone",
        "CREATE VIEW v_kept AS SELECT b FROM kept",
        "DROP TABLE gone",
    )
    # When it is backed up; Then one line names the invalid view, and says no restore will create it
    with caplog.at_level(logging.WARNING):
        entry = back_up(db_settings, source, tmp_path)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in warning
    assert f"view `v_gone` of {source} reads a table, column or function that does not exist" in warning
    assert "every restore of this backup will refuse it" in warning
    # and verify says it too
    said = warning.removesuffix(": every restore of this backup will refuse it as it is")
    assert verify_backup(entry).unrestorable == [said]
