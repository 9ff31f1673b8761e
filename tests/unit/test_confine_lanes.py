"""The check before loading in two lanes: big row statements read by a second process give the same
verdicts, digests and first refusal as one lane reading everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from cloudbackup.confine import lane_start, lanes
from cloudbackup.confine.check import REMEMBERED_ROWS_BYTES, Confinement, Refused
from cloudbackup.confine.lanes import (
    LANE_MIN_BYTES,
    RowLane,
    check_before_loading,
    check_statements,
    row_lane,
)
from cloudbackup.errors import OperationError
from cloudbackup.mysql import splitter
from cloudbackup.mysql.splitter import Statement, split_statements

# (hex in capitals, as dumps write it: the loader's reading proves it too, mysql/literals.py)
ROW = b"(1,'It\\'s a \"quoted\" note; at C:\\\\data\\\\',X'00FF',NULL,-1.5e3),"


def big_insert(rows_bytes: int, last_row: bytes = b"(2,'end',X'',NULL,0)") -> bytes:
    return b"INSERT INTO `t` VALUES " + ROW * (rows_bytes // len(ROW) + 1) + last_row


def dump(*statements: bytes) -> bytes:
    head = b"SET NAMES utf8mb4;\nCREATE TABLE `t` (a int);\n"
    return head + b"".join(s + b";\n" for s in statements)


def check(sql: bytes, lanes: bool) -> Confinement:
    confinement = Confinement(where="backup b", follow_sql_mode=True, learn_row_kinds=True)
    with row_lane(confinement, wanted=lanes) as lane:
        if lanes:
            assert lane is not None
        check_statements(confinement, split_statements([sql], modes=confinement.modes), lane)
    return confinement


def refusal(sql: bytes, lanes: bool) -> str:
    with pytest.raises(Refused) as refused:
        check(sql, lanes)
    return str(refused.value)


BAD_ROW = b"(2,(SELECT user()),X'',NULL,0)"


def test_two_lanes_accept_what_one_accepts_and_remember_the_same_digests():
    # Given a dump of big and small row statements, some under NO_BACKSLASH_ESCAPES
    sql = dump(
        big_insert(REMEMBERED_ROWS_BYTES),
        big_insert(LANE_MIN_BYTES),
        b"INSERT INTO `t` VALUES (1,'x')",
        b"SET sql_mode='NO_BACKSLASH_ESCAPES'",
        b"INSERT INTO `t` VALUES " + b"(1,'a\\b''')," * (REMEMBERED_ROWS_BYTES // 12) + b"(2,'c')",
    )
    # When it is checked in one lane and in two
    one, two = check(sql, lanes=False), check(sql, lanes=True)
    # Then both pass, number the statements alike and remember the same big statements, with the same
    # literals' kinds for the loader where backslashes escape
    assert two.next_number == one.next_number == 8
    assert two.accepted_rows == one.accepted_rows
    assert len(one.accepted_rows) == 2
    assert two.row_kinds == one.row_kinds
    assert len(one.row_kinds) == 1


@pytest.mark.parametrize(
    "statements",
    [
        # a big refused row statement among good ones
        [big_insert(LANE_MIN_BYTES), big_insert(LANE_MIN_BYTES, BAD_ROW), big_insert(LANE_MIN_BYTES)],
        # a big refused row statement, then a refused statement of another kind
        [big_insert(LANE_MIN_BYTES, BAD_ROW), b"GRANT ALL ON *.* TO x"],
        # a refused statement of another kind, then a big refused row statement
        [big_insert(LANE_MIN_BYTES), b"GRANT ALL ON *.* TO x", big_insert(LANE_MIN_BYTES, BAD_ROW)],
        # a big row statement in a database named by a qualifier
        [b"INSERT INTO `mysql`.`user` VALUES " + ROW * (LANE_MIN_BYTES // len(ROW)) + b"(1,'',X'',NULL,0)"],
    ],
)
def test_two_lanes_refuse_the_first_statement_one_lane_refuses(statements):
    # Given a dump with refused statements; When it is checked in one lane and in two
    # Then the same statement is refused, with the same one-line message
    sql = dump(*statements)
    assert refusal(sql, lanes=True) == refusal(sql, lanes=False)


def test_a_second_lane_that_dies_stops_the_check_with_one_line():
    # Given a lane whose process is gone (killed, out of memory)
    lane = RowLane("backup b")
    os.kill(lane.pid, signal.SIGKILL)

    # When it is handed a statement; Then the check stops with a one-line error, nothing accepted
    def hand_over_and_wait() -> None:
        lane.take(Statement(1, 1, big_insert(LANE_MIN_BYTES)), Confinement(where="x").modes)
        lane.finish()

    with pytest.raises(OperationError, match="second process exited"):
        hand_over_and_wait()


# --- the whole check before loading: big row statements split on trust --------------------------------


def check_twice_over(sql: bytes, monkeypatch) -> tuple[Confinement, int]:
    """check_before_loading of `sql` in two lanes, and how many times it read the input."""
    monkeypatch.setattr(lane_start, "LANES_MIN_INPUT_BYTES", 0)
    monkeypatch.setattr(lane_start.os, "sched_getaffinity", lambda _pid: {0, 1})
    reads = []

    def read(check):
        reads.append(1)
        check([sql[i : i + 50_000] for i in range(0, len(sql), 50_000)])

    made = check_before_loading(lambda: Confinement(where="backup b", follow_sql_mode=True), read, len(sql))
    return made, len(reads)


def test_big_row_statements_split_on_trust_are_read_once(monkeypatch):
    # Given a dump of big row statements; When it is checked before loading in two lanes
    sql = dump(big_insert(REMEMBERED_ROWS_BYTES), big_insert(LANE_MIN_BYTES), b"INSERT INTO `t` VALUES (1)")
    regions = []
    real = splitter._fast_path
    monkeypatch.setattr(splitter, "_fast_path", lambda s, pos: regions.append(pos) or real(s, pos))
    made, reads = check_twice_over(sql, monkeypatch)
    # Then it is read once, the big statements by the second lane alone (this one scans none of their
    # bytes), with the verdicts and digests of one lane reading everything
    assert reads == 1
    assert regions == []
    assert (made.next_number, made.accepted_rows) == (
        check(sql, lanes=False).next_number,
        check(sql, lanes=False).accepted_rows,
    )


def test_a_split_on_trust_that_cuts_a_string_is_read_again_and_accepted(monkeypatch):
    # Given a big row statement with a `;` and a newline inside a string: the split on trust cuts it
    tricky = big_insert(LANE_MIN_BYTES, b"(2,'a;\nb',X'',NULL,0)")
    sql = dump(b"INSERT INTO `t` VALUES " + b"(1,'a;\nb')," + ROW * (LANE_MIN_BYTES // len(ROW)) + b"(2,'c')")
    sql += dump(tricky)
    # When it is checked before loading; Then the refusal of the cut piece sends it round again,
    # reading every statement, and the dump is accepted as one lane accepts it
    made, reads = check_twice_over(sql, monkeypatch)
    assert reads == 2
    assert made.next_number == check(sql, lanes=False).next_number


def test_a_refused_big_row_statement_split_on_trust_is_named_as_one_lane_names_it(monkeypatch):
    sql = dump(big_insert(LANE_MIN_BYTES), b"INSERT INTO `t` VALUES (1)", big_insert(LANE_MIN_BYTES, BAD_ROW))
    with pytest.raises(Refused) as refused:
        check_twice_over(sql, monkeypatch)
    assert str(refused.value) == refusal(sql, lanes=False)


def test_a_cut_that_makes_the_rest_look_like_another_database_is_read_again_and_accepted(monkeypatch):
    # Given a big row statement whose string holds what would read as two USE statements once cut
    sql = dump(big_insert(LANE_MIN_BYTES, b"(2,'x;\nUSE `a`;\nUSE `b`;\n',X'',NULL,0)"))
    check(sql, lanes=False)  # one lane reading everything accepts it
    # When it is checked in two lanes; Then the cut's "more than one database" sends it round again
    made, reads = check_twice_over(sql, monkeypatch)
    assert reads == 2
    assert made.next_number == check(sql, lanes=False).next_number


def test_a_cut_that_changes_the_delimiter_is_read_again_without_reading_the_rest_into_memory(monkeypatch):
    # Given a big row statement whose string, once cut, reads as a DELIMITER line, and much after it
    monkeypatch.setattr(lanes, "TRUSTED_MAX_STATEMENT_BYTES", 4 * LANE_MIN_BYTES)
    cut = big_insert(LANE_MIN_BYTES, b"(2,'x;\nDELIMITER $$\n',X'',NULL,0)")
    sql = dump(cut, *[big_insert(LANE_MIN_BYTES)] * 8)
    # When it is checked in two lanes; Then the pass on trust stops at the cap, and the check in one
    # lane accepts the dump as it is
    made, reads = check_twice_over(sql, monkeypatch)
    assert reads == 2
    assert made.next_number == check(sql, lanes=False).next_number


def test_lanes_are_chosen_where_the_os_knows_no_affinity(monkeypatch):
    # Given a system without sched_getaffinity (macOS, where operators also run the command)
    monkeypatch.delattr(lane_start.os, "sched_getaffinity")
    monkeypatch.setattr(lane_start.os, "cpu_count", lambda: 8)
    # Then the machine's count decides, and a big input gets two lanes, a small one not
    assert lane_start.lanes_help(lane_start.LANES_MIN_INPUT_BYTES)
    assert not lane_start.lanes_help(lane_start.LANES_MIN_INPUT_BYTES - 1)
    monkeypatch.setattr(lane_start.os, "cpu_count", lambda: 1)
    assert not lane_start.lanes_help(lane_start.LANES_MIN_INPUT_BYTES)


# --- the second lane's process, started ahead (confine/lane_start.py) ---------------------------------


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(lane_start.os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(lane_start, "_ahead", None)


def test_a_lane_takes_the_process_started_ahead_and_then_starts_its_own(two_cores):
    # Given a check of a big input known ahead
    lane_start.start_ahead(lane_start.LANES_MIN_INPUT_BYTES)
    ahead = lane_start._ahead
    assert ahead is not None
    # When the check's lanes start; Then the first takes that process and works with it
    sql = dump(big_insert(REMEMBERED_ROWS_BYTES), big_insert(REMEMBERED_ROWS_BYTES, b"(3,'x',X'',NULL,0)"))
    assert check(sql, lanes=True).accepted_rows == check(sql, lanes=False).accepted_rows
    assert ahead.wait(timeout=10) == 0  # (it answered and ended)
    assert lane_start._ahead is None
    # and a later lane starts a process of its own
    later = RowLane("backup b")
    assert later.pid != ahead.pid
    later.stop()


def test_no_process_is_started_ahead_for_a_small_input_or_one_core(two_cores, monkeypatch):
    lane_start.start_ahead(lane_start.LANES_MIN_INPUT_BYTES - 1)
    assert lane_start._ahead is None
    monkeypatch.setattr(lane_start.os, "sched_getaffinity", lambda _pid: {0})
    lane_start.start_ahead(lane_start.LANES_MIN_INPUT_BYTES)
    assert lane_start._ahead is None


def test_a_process_started_ahead_and_never_taken_ends_quietly(tmp_path):
    # Given the lane's process, started as lane_start does, that is never sent anything
    child = subprocess.run(
        [sys.executable, "-m", "cloudbackup.confine.lanes"],
        input=b"",
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        timeout=30,
        check=False,
    )
    # Then it exits 0 without a word (no traceback on the operator's terminal)
    assert (child.returncode, child.stdout, child.stderr) == (0, b"", b"")


def test_ctrl_c_on_the_terminal_leaves_the_lane_to_its_parent(two_cores):
    # Given a lane's process started ahead (Ctrl-C reaches the whole process group)
    lane_start.start_ahead(lane_start.LANES_MIN_INPUT_BYTES)
    ahead = lane_start._ahead
    assert ahead is not None
    time.sleep(0.5)  # (ready: the handler is set before it reads anything)
    os.kill(ahead.pid, signal.SIGINT)
    # When the check goes on; Then the lane still answers (the parent stops it itself when it must)
    sql = dump(big_insert(REMEMBERED_ROWS_BYTES), big_insert(REMEMBERED_ROWS_BYTES, b"(3,'x',X'',NULL,0)"))
    assert len(check(sql, lanes=True).accepted_rows) == 2
    assert ahead.wait(timeout=10) == 0


SHOWS_WHETHER_THE_ENGINE_IS_LOADED = (
    "import sys, cloudbackup.cli.cmd_restore; print('cloudbackup.restore' in sys.modules)"
)


def test_the_restore_command_loads_the_engine_only_after_it_found_the_backup():
    # (so that the lane's process, started when the manifest is read, gets ready meanwhile)
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, cloudbackup.cli.cmd_restore; print('cloudbackup.restore' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        timeout=30,
        check=True,
    )
    assert imported.stdout.strip() == "False"
