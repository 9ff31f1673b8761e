"""A restore checks each statement twice (before loading, and as it is sent): a big row statement
whose exact bytes were accepted is known the second time by its digest, and nothing else is."""

import pytest

from cloudbackup.confine.check import REMEMBERED_ROWS_BYTES, Confinement, Refused
from cloudbackup.mysql.splitter import QuoteModes, Statement

ROW = b"(1,'It\\'s a \"quoted\" note at C:\\\\data\\\\',X'00ff',NULL),"


def big_insert(last_row: bytes = b"(2,'end',X'',NULL)") -> bytes:
    rows = ROW * (REMEMBERED_ROWS_BYTES // len(ROW) + 1)
    return b"INSERT INTO `t` VALUES " + rows + last_row


def reads_of_values(monkeypatch) -> list[bytes]:
    seen: list[bytes] = []
    read = Confinement._read_rows

    def counting(self, sql, start):
        seen.append(sql)
        return read(self, sql, start)

    monkeypatch.setattr(Confinement, "_read_rows", counting)
    return seen


def test_the_same_big_statement_is_read_once_across_the_two_checks(monkeypatch):
    # Given the check before loading accepted a big row statement
    reads = reads_of_values(monkeypatch)
    before = Confinement(where="backup b")
    before.check(Statement(1, 1, big_insert()))
    # When the check while loading, made from it, meets the same bytes
    loading = Confinement(where="backup b", accepted_rows=before.accepted_rows)
    loading.check(Statement(1, 1, big_insert()))
    # Then their values were read once
    assert len(reads) == 1


def test_a_big_statement_changed_after_the_first_check_is_read_again_and_refused(monkeypatch):
    # Given the first check accepted a big row statement
    reads = reads_of_values(monkeypatch)
    before = Confinement(where="backup b")
    before.check(Statement(1, 1, big_insert()))
    # When the bytes sent differ in its last row: a call where a literal was
    loading = Confinement(where="backup b", accepted_rows=before.accepted_rows)
    with pytest.raises(Refused, match="literals"):
        loading.check(Statement(1, 1, big_insert(b"(2,(SELECT user()),X'',NULL)")))
    # Then it was read again, and refused
    assert len(reads) == 2


def test_the_same_bytes_under_other_quote_modes_are_read_again(monkeypatch):
    reads = reads_of_values(monkeypatch)
    before = Confinement(where="backup b")
    before.check(Statement(1, 1, big_insert()))
    loading = Confinement(
        where="backup b", accepted_rows=before.accepted_rows, modes=QuoteModes(backslash_escapes=False)
    )
    with pytest.raises(Refused):  # without backslash escapes its strings end elsewhere
        loading.check(Statement(1, 1, big_insert()))
    assert len(reads) == 2
