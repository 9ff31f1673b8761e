"""Usage errors found before any server or store is reached: exit code 2 and one line on stderr."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudbackup.cli.cmd_restore import parse_time
from cloudbackup.cli.main import main

TO_TIME = ["restore", "--db-url", "mysql://root@127.0.0.1", "--database", "shop", "--target-database", "x"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_to_time_out_of_the_calendar_is_a_usage_error_in_one_line(moment, capsys, tmp_path):
    # When --to-time is a valid ISO 8601 time that falls outside the calendar once turned to UTC
    code = main([*TO_TIME, "--to-time", moment, "--data", str(tmp_path)])
    # Then it is refused as mistyped, in one line, not as an internal error
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == f"cloudbackup: --to-time {moment}: out of range once in UTC (years 1 to 9999)\n"


@pytest.mark.parametrize("moment", ["2026-12-07t04:00:00z", "2026-12-07T04:00:00z", " 2026-12-07T04:00Z "])
def test_a_to_time_in_lower_case_or_with_blanks_is_read_as_rfc_3339_reads_it(moment):
    # When --to-time is written with a lower-case `t` or `z` (RFC 3339 allows both), or with the blanks a
    # copy from a log line brings along
    # Then it is the moment it names, not "not an ISO 8601 time"
    assert parse_time(moment) == datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("variable", ["CLOUDBACKUP_BACKUP_BUCKET", "CLOUDBACKUP_DATA"])
@pytest.mark.parametrize("command", [["list"], ["prune", "--keep-last", "1", "--dry-run"]])
def test_a_store_variable_set_empty_is_refused_not_taken_as_unset(
    variable, command, capsys, tmp_path, monkeypatch
):
    # Given a script's `CLOUDBACKUP_BACKUP_BUCKET=$BUCKET cloudbackup …` with BUCKET unset: the variable
    # is set, and empty (as `--data "$DIR"` is refused for the same mistake)
    monkeypatch.setenv("HOME", str(tmp_path))  # the default store, should anything reach it
    monkeypatch.setenv(variable, "")
    # When a command chooses its store
    code = main(command)
    # Then it is refused in one line naming the variable, instead of listing or pruning
    # ~/.cloudbackup (or, for the bucket, the local store) as if it had been named
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert f"${variable} is set but empty" in err
    assert not (tmp_path / ".cloudbackup").exists()


def test_a_restore_naming_only_the_database_says_how_to_pick_its_newest_backup(capsys, tmp_path):
    # Given an operator who names the database but no backup (the help's `--database` reads as enough)
    args = ["restore", "--db-url", "mysql://root@127.0.0.1", "--database", "shop", "--target-database", "x"]
    # When the restore runs
    code = main([*args, "--data", str(tmp_path)])
    # Then it is a usage error in one line that gives the flag that picks shop's newest backup
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == (
        "cloudbackup: say what to restore: --backup latest for the newest of shop, "
        "--backup ID|latest|FILE, or --to-time TIME\n"
    )
