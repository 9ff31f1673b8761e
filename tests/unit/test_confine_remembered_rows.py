"""A restore checks each statement twice (before loading, and as it is sent): a big row statement
whose exact bytes were accepted is known the second time by its digest, and nothing else is."""

import pytest

from cloudbackup.confine.check import REMEMBERED_ROWS_BYTES, Confinement, Refused
from cloudbackup.mysql import splitter
from cloudbackup.mysql.splitter import QuoteModes, Statement, split_statements

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


def test_the_load_splits_statements_accepted_before_by_their_digest_and_gets_the_same_statements(monkeypatch):
    # Given a dump of big row statements (one with `;` and a newline inside a string) and others
    tricky = big_insert(b"(2,'a;\\nb;\n',X'',NULL)")
    statements = [
        b"CREATE TABLE `t` (a int)",
        big_insert(),
        tricky,
        b"INSERT INTO `t` VALUES (1)",
        big_insert(),
    ]
    dump = b"".join(s + b";\n" for s in statements)
    chunks = [dump[i : i + 100_000] for i in range(0, len(dump), 100_000)]
    before = Confinement(where="backup b")
    expected = list(split_statements(chunks))
    before.check_all(expected)
    assert [s.sql for s in expected] == statements
    # When the load splits it again, asking the check which statements it knows
    loading = Confinement(where="backup b", accepted_rows=before.accepted_rows)
    reads = []
    real = splitter._fast_path
    monkeypatch.setattr(splitter, "_fast_path", lambda s, pos: reads.append(pos) or real(s, pos))
    got = list(split_statements(chunks, known=loading.knows))
    known_reads, reads[:] = len(reads), []
    list(split_statements(chunks))
    # Then the statements are the same, the big ones known (the tricky one too: its first `;` and
    # newline lie inside a string, so the bytes up to them are no statement the check accepted, and
    # the bytes up to its real end are), and fewer regions were read
    assert got == expected
    assert [loading.knows(memoryview(s.sql)) for s in got] == [False, True, True, False, True]
    assert known_reads < len(reads)


def test_a_statement_is_not_known_under_other_quote_modes():
    before = Confinement(where="backup b")
    before.check(Statement(1, 1, big_insert()))
    loading = Confinement(
        where="backup b", accepted_rows=before.accepted_rows, modes=QuoteModes(backslash_escapes=False)
    )
    assert not loading.knows(memoryview(big_insert()))
    assert Confinement(where="backup b", accepted_rows=before.accepted_rows).knows(memoryview(big_insert()))


def digests_taken(monkeypatch) -> list[int]:
    import cloudbackup.confine.check as check_module

    taken: list[int] = []
    real = check_module.hashlib.sha256

    class Counting:
        @staticmethod
        def sha256(data=b""):
            taken.append(len(data))
            return real(data)

    monkeypatch.setattr(check_module, "hashlib", Counting)
    return taken


def test_a_statement_the_splitter_knew_is_hashed_once_while_loading(monkeypatch):
    # Given the check before loading accepted a big row statement
    before = Confinement(where="backup b")
    before.check(Statement(1, 1, big_insert()))
    loading = Confinement(where="backup b", accepted_rows=before.accepted_rows)
    taken = digests_taken(monkeypatch)
    # When the load splits it (asking `knows`) and checks it as it is sent
    (stmt,) = split_statements([big_insert() + b";\n"], known=loading.knows)
    loading.check(stmt)
    # Then its bytes were hashed once, not once per question
    assert taken == [len(big_insert())]


def test_other_bytes_after_a_known_statement_are_hashed_and_refused(monkeypatch):
    # Given the splitter was told a big statement is known
    before = Confinement(where="backup b")
    before.check(Statement(1, 1, big_insert()))
    loading = Confinement(where="backup b", accepted_rows=before.accepted_rows)
    assert loading.knows(memoryview(big_insert()))
    # When the statement then checked is another one of the same length (a call where a literal was)
    other = big_insert(b"(2,now(),X'',NULL)")
    assert len(other) == len(big_insert())
    # Then it is not taken for the known one: it is read, and refused
    with pytest.raises(Refused, match="literals"):
        loading.check(Statement(2, 1, other))
