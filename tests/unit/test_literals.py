"""The literals' kinds a row statement's columns hold, proven before loading (mysql/literals.py): what
they prove is what the loader's own reading and the confinement's check would accept."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudbackup.confine.check import REMEMBERED_ROWS_BYTES, Confinement, Refused
from cloudbackup.mysql import literals
from cloudbackup.mysql.literals import DECIMAL, FLOAT, HEX, INTEGER, KINDS, STRING, fits, proven_kinds
from cloudbackup.mysql.splitter import QuoteModes, Statement

NONE = KINDS.index(literals.NO_LITERAL)
INT, D, F, S, H = (KINDS.index(k) for k in (INTEGER, DECIMAL, FLOAT, STRING, HEX))


def insert(*rows: bytes) -> bytes:
    return b"INSERT INTO `t` (`a`,`b`,`c`) VALUES " + b",".join(b"(" + row + b")" for row in rows)


@pytest.mark.parametrize(
    ("rows", "kinds"),
    [
        ([b"1,'x',X'00FF'", b"-2,'it\\'s',0x0a"], (INT, S, H)),
        ([b"1.50,-0.5,1e-7", b"2,3,4"], (D, D, F)),  # numbers widen to the widest seen
        ([b"NULL,NULL,NULL", b"7,'2020-01-01 00:00:00',NULL"], (INT, S, NONE)),  # NULL tells nothing
        ([b"1,NULL,2"] * 20 + [b"3,'x',4"], (INT, S, INT)),  # read on while a column has shown no value
        ([b"'a\\0\\n\\r\\Z\\\\\\\"',NULL,''"], (S, NONE, S)),
    ],
)
def test_kinds_are_guessed_from_the_rows_and_proven_on_all(rows, kinds):
    assert proven_kinds(insert(*rows)) == kinds


@pytest.mark.parametrize(
    "sql",
    [
        insert(b"1,'x'", b"1,'x',2"),  # rows of different widths
        insert(b"1,'x',2", b"'y','x',2"),  # a number column that holds a string
        insert(b"1,_binary 'x',2"),  # an introducer, which LOAD DATA lacks
        insert(b"1,'a''b',2"),  # a doubled quote
        insert(b"1,'a\\%b',2"),  # an escape LOAD DATA reads otherwise (\\% stays two characters for INSERT)
        insert(b'1,"x",2'),
        insert(b"1,TRUE,2"),
        insert(b"1,'x',2") + b" ON DUPLICATE KEY UPDATE a = 1",
        b"INSERT INTO `t` VALUES (1,'x',2), (3,'y',4)",  # a blank between rows: not the shape dumps write
        b"REPLACE INTO `t` VALUES (1)",
    ],
)
def test_other_shapes_prove_nothing(sql):
    assert proven_kinds(sql) is None


def test_a_column_whose_first_rows_guess_wrong_proves_nothing():
    # Given integers in a column for more rows than a guess reads (every column has shown a value), then
    # a decimal
    rows = [b"1,'x',2"] * literals.SAMPLE_ROWS_MAX + [b"1.5,'x',2"]
    assert proven_kinds(insert(*rows)) is None
    # (within them, the column is a decimal one)
    assert proven_kinds(insert(*rows[-2:])) == (D, S, INT)


def test_proven_kinds_fit_their_literal_a_wider_number_or_any_column_when_null_throughout():
    assert fits((INTEGER, STRING, HEX), (INT, S, H))
    assert fits((FLOAT, DECIMAL, STRING), (INT, INT, NONE))
    assert not fits((INTEGER,), (D,))  # 1.5 in an INT column: LOAD DATA would store it otherwise
    assert not fits((STRING,), (INT,))  # 007 in a VARCHAR: "7" from the INSERT, "007" from LOAD DATA
    assert not fits((INTEGER, INTEGER), (INT,))


# --- the properties the loader and the check rely on ------------------------------------------------

string_bytes = st.binary(max_size=12).map(
    lambda b: b.replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\n", b"\\n").replace(b"\0", b"\\0")
)
VALUE_OF_KIND = {
    INT: st.integers().map(lambda n: str(n).encode()),
    D: st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: str(d).encode()),
    F: st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
    S: string_bytes.map(lambda b: b"'" + b + b"'"),
    H: st.binary(max_size=8).map(lambda b: b"X'" + b.hex().upper().encode() + b"'"),
}
hostile = st.sampled_from(
    [b"'", b"\\", b"''", b";", b"--", b"-- x", b"/*", b"#", b"),(", b"(SELECT 1)", b"@a", b"0b1", b"NULLx"]
)


@st.composite
def statements(draw) -> bytes:
    """Row statements of kinds per column, now and then with a hostile piece where a value would be."""
    width = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.sampled_from(sorted(VALUE_OF_KIND)), min_size=width, max_size=width))
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        values = [draw(st.one_of(VALUE_OF_KIND[k], st.just(b"NULL"))) for k in kinds]
        if draw(st.integers(0, 9)) == 0:
            values[draw(st.integers(0, width - 1))] = draw(hostile)
        rows.append(b",".join(values))
    columns = b",".join(b"`c%d`" % i for i in range(width))
    return b"INSERT INTO `t` (" + columns + b") VALUES " + b",".join(b"(" + r + b")" for r in rows)


def checked(sql: bytes, *, learn: bool) -> Confinement:
    confinement = Confinement(where="f.sql", learn_row_kinds=learn)
    confinement.check(Statement(1, 1, sql))
    return confinement


@settings(max_examples=400, deadline=None)
@given(sql=statements())
def test_rows_proven_of_their_kinds_pass_the_check_of_literals(sql):
    # The check before loading accepts a big row statement on its proven kinds, instead of reading
    # its values as literals: whatever is proven must pass that reading too
    if proven_kinds(sql) is not None:
        checked(sql, learn=False)


@settings(max_examples=400, deadline=None)
@given(sql=statements())
def test_rows_proven_of_their_kinds_match_the_plan_of_every_column_type_they_fit(sql):
    # The loader sends rows without reading them when their kinds fit its plan's literals: its own
    # reading, with those literals, would have matched
    kinds = proven_kinds(sql)
    if kinds is None:
        return
    start = literals.head(sql).end()  # type: ignore[union-attr]
    end = literals.values_end(sql, start)
    wider = {INT: (INTEGER, DECIMAL, FLOAT), D: (DECIMAL, FLOAT), F: (FLOAT,), S: (STRING,), H: (HEX,)}
    choices = [wider.get(k, (INTEGER, STRING, HEX, FLOAT)) for k in kinds]
    for plan in itertools.islice(itertools.product(*choices), 50):
        assert fits(plan, kinds)
        assert literals.rows_pattern(plan, sql).fullmatch(sql, start, end) is not None


# --- the check before loading learns them ----------------------------------------------------------

BIG = insert(*[b"1,'it\\'s',X'00'"] * (REMEMBERED_ROWS_BYTES // 14))


def test_the_check_before_loading_learns_the_kinds_of_big_row_statements_and_the_load_finds_them():
    # Given a big row statement checked before loading
    before = checked(BIG, learn=True)
    assert list(before.row_kinds.values()) == [(INT, S, H)]
    # When the load checks it again; Then it is known, with its kinds
    loading = Confinement(where="f.sql", accepted_rows=before.accepted_rows, row_kinds=before.row_kinds)
    loading.check(Statement(1, 1, BIG))
    assert loading.last_row_kinds == (INT, S, H)
    # and neither has any statement after it: another kind, or a small row statement
    loading.check(Statement(2, 1, b"SET NAMES utf8mb4"))
    assert loading.last_row_kinds is None
    loading.check(Statement(3, 1, BIG))
    loading.check(Statement(4, 1, insert(b"1,'x',X'00'")))
    assert loading.last_row_kinds is None


def test_no_kinds_are_learnt_where_backslashes_do_not_escape():
    confinement = Confinement(where="f.sql", learn_row_kinds=True, modes=QuoteModes(backslash_escapes=False))
    confinement.check(Statement(1, 1, BIG.replace(b"\\'", b"")))
    assert confinement.row_kinds == {}
    assert len(confinement.accepted_rows) == 1


def test_a_big_statement_that_proves_nothing_is_still_checked():
    bad = BIG[:-1] + b",(SELECT user()))"
    with pytest.raises(Refused):
        checked(bad, learn=True)
