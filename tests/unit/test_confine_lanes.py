"""The check before loading in two lanes: big row statements read by a second process give the same
verdicts, digests and first refusal as one lane reading everything."""

from __future__ import annotations

import os
import signal

import pytest

from cloudbackup.confine.check import REMEMBERED_ROWS_BYTES, Confinement, Refused
from cloudbackup.confine.lanes import LANE_MIN_BYTES, RowLane, check_statements, row_lane
from cloudbackup.errors import OperationError
from cloudbackup.mysql.splitter import Statement, split_statements

ROW = b"(1,'It\\'s a \"quoted\" note; at C:\\\\data\\\\',X'00ff',NULL,-1.5e3),"


def big_insert(rows_bytes: int, last_row: bytes = b"(2,'end',X'',NULL,0)") -> bytes:
    return b"INSERT INTO `t` VALUES " + ROW * (rows_bytes // len(ROW) + 1) + last_row


def dump(*statements: bytes) -> bytes:
    head = b"SET NAMES utf8mb4;\nCREATE TABLE `t` (a int);\n"
    return head + b"".join(s + b";\n" for s in statements)


def check(sql: bytes, lanes: bool) -> Confinement:
    confinement = Confinement(where="backup b", follow_sql_mode=True)
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
    # Then both pass, number the statements alike and remember the same big statements
    assert two.next_number == one.next_number == 8
    assert two.accepted_rows == one.accepted_rows
    assert len(one.accepted_rows) == 2


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
