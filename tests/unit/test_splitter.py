"""The statement splitter cuts SQL bytes where the mysql client would, whatever the chunking."""

from __future__ import annotations

from unittest import mock

import pytest

from cloudbackup.mysql import splitter
from cloudbackup.mysql.splitter import QuoteModes, Statement, StatementTooLong, split_statements


def split(data: bytes, chunk: int | None = None) -> list[bytes]:
    chunks = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return [s.sql for s in split_statements(chunks)]


DUMP = b"""/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
#
# a hash comment; with a delimiter
DROP TABLE IF EXISTS `a;b`;
INSERT INTO `a;b` VALUES (1,'semi;colon','it\\'s','it''s',"dq\\";",'back\\\\slash'),(-1,--2, 3/4);
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON x
FOR EACH ROW BEGIN SET @a = 1; SET @b = '--;;'; END */;;
DELIMITER ;
DELIMITER $$
CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 'x$$'; END$$
DELIMITER //
CREATE FUNCTION f() RETURNS int RETURN 1 / 2//
DELIMITER ;
/* plain ; comment */ SELECT 1 -- trailing ; comment
;
SELECT 2;;;
SELECT '\xff\xfe;\x80'"""

EXPECTED = [
    b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */",
    b"/*!40101 SET NAMES utf8mb4 */",
    b"DROP TABLE IF EXISTS `a;b`",
    b"INSERT INTO `a;b` VALUES (1,'semi;colon','it\\'s','it''s',\"dq\\\";\",'back\\\\slash'),(-1,--2, 3/4)",
    b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON x\n"
    b"FOR EACH ROW BEGIN SET @a = 1; SET @b = '--;;'; END */",
    b"CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 'x$$'; END",
    b"CREATE FUNCTION f() RETURNS int RETURN 1 / 2",
    b"SELECT 1 -- trailing ; comment",
    b"SELECT 2",
    b"SELECT '\xff\xfe;\x80'",
]


def test_what_follows_a_sandbox_comment_on_its_line_is_a_statement():
    # Given MariaDB's sandbox comment with code after it on the same line (the server and the stock client
    # both run that code)
    data = b"/*M!999999\\- enable the sandbox mode */ DROP TABLE x;\nSELECT 1;\n"
    # When it is split; Then the code after the comment is a statement, not skipped with the comment
    assert split(data) == [b"DROP TABLE x", b"SELECT 1"]


def test_a_hint_comment_holding_a_backslash_between_statements_is_a_statement():
    # Given a `/*+ … */` comment with a backslash after the last statement (MySQL's client reads it as code)
    data = b"SELECT 1;\n/*+ \\! touch x */\n/*+ BKA(t) */\n"
    # When it is split; Then it is a statement of its own, for the check to read, and a plain hint is skipped
    assert split(data) == [b"SELECT 1", b"/*+ \\! touch x */\n/*+ BKA(t) */"]


def test_a_dump_splits_into_its_statements():
    # Given a dump with every construct the client understands; when it is split in one piece
    # Then the statements come out without delimiters, comments between statements or client commands
    assert split(DUMP) == EXPECTED


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 13, 64])
def test_chunk_boundaries_do_not_matter(chunk):
    assert split(DUMP, chunk) == EXPECTED


def test_statements_carry_their_number_and_line():
    stmts = list(split_statements([b"\n-- c\nSELECT 1;\n\nSELECT\n2;SELECT 3"]))
    assert stmts == [
        Statement(1, 3, b"SELECT 1"),
        Statement(2, 5, b"SELECT\n2"),
        Statement(3, 6, b"SELECT 3"),
    ]


def test_first_number_continues_a_count():
    assert [s.number for s in split_statements([b"SELECT 1; SELECT 2;"], first_number=10)] == [10, 11]


def test_only_comments_and_whitespace_give_nothing():
    assert split(b"  -- x\n# y\n/* z; */ ;;\n") == []


def test_a_minus_minus_without_space_is_not_a_comment():
    assert split(b"SELECT 1--1;SELECT 2") == [b"SELECT 1--1", b"SELECT 2"]


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_a_minus_minus_before_a_control_character_is_a_comment(chunk):
    # Given `--` before a control character (a comment to the server) and then a quote: the server's
    # statement ends at the `;` on the next line, not inside a text
    dump = b"SELECT 1 --\x01 '\n;SELECT 2 --\x7f'\n;\n"
    assert split(dump, chunk) == [b"SELECT 1 --\x01 '", b"SELECT 2 --\x7f'"]


def test_unterminated_string_at_the_end_is_one_last_statement():
    # The server reports the syntax error with the statement number; the splitter loses nothing.
    assert split(b"SELECT 1; SELECT 'abc;") == [b"SELECT 1", b"SELECT 'abc;"]


def test_a_long_string_spanning_many_chunks():
    long = b"x" * 50_000 + b";\n" + b"\\'" * 1000
    sql = b"INSERT INTO t VALUES ('" + long + b"'),('b');\nSELECT 1;"
    assert split(sql, 4096) == [b"INSERT INTO t VALUES ('" + long + b"'),('b')", b"SELECT 1"]


def test_multi_row_inserts_with_markers_inside_strings():
    rows = b",".join(b"(%d,'a;b -- c # d /* e \\' \" `',\"q;\")" % i for i in range(500))
    sql = b"INSERT INTO `t` VALUES " + rows + b";\nINSERT INTO `t` VALUES (1,';\n');\n"
    expected = [b"INSERT INTO `t` VALUES " + rows, b"INSERT INTO `t` VALUES (1,';\n')"]
    assert split(sql) == expected
    assert split(sql, 1000) == expected


def test_no_backslash_escapes_follows_the_session_between_statements():
    # Given a consumer that switches the mode after the SET, as the loader does from the server status
    modes = QuoteModes()
    sql = b"SET sql_mode='NO_BACKSLASH_ESCAPES';\nSELECT 'a\\';\nSELECT \"b\\\";\nSELECT 'it''s;'"
    got = []
    for stmt in split_statements([sql], modes=modes):
        got.append(stmt.sql)
        modes.backslash_escapes = False
    # Then a backslash before a quote no longer escapes it
    assert got == [
        b"SET sql_mode='NO_BACKSLASH_ESCAPES'",
        b"SELECT 'a\\'",
        b'SELECT "b\\"',
        b"SELECT 'it''s;'",
    ]


def test_ansi_quotes_make_double_quotes_identifiers():
    modes = QuoteModes(ansi_quotes=True)
    assert [s.sql for s in split_statements([b'SELECT "a\\";SELECT 1'], modes=modes)] == [
        b'SELECT "a\\"',
        b"SELECT 1",
    ]


@pytest.mark.parametrize(
    "sql",
    [
        b"SELECT 'it\\'s;\n more'",  # an escaped quote before a line-ending delimiter in a string
        b"SELECT 'a\\\\', 'b;\n'",  # an escaped backslash, then a real closing quote
        b"SELECT 'x\\\\\\'y;\n'",  # three backslashes: the quote stays escaped
        b"SELECT 'q\\\";\n', 1",  # an escaped double quote in a string
        b"SELECT 'a''b;\n'",  # a doubled quote
    ],
)
def test_the_fast_path_counts_escapes_exactly(sql):
    # Given a statement whose string holds `;` + newline (the fast path's first guess at an end)
    data = sql + b";\nSELECT 2;\n"
    # When the bulk fast path judges it from the first byte on
    with mock.patch.object(splitter, "_CAREFUL_WINDOW", 1):
        got = split(data)
    # Then the guess inside the string is rejected
    assert got == [sql, b"SELECT 2"]


def test_a_statement_past_the_callers_limit_stops_the_split():
    sql = b"SELECT 1;\nSELECT '" + b"x" * 5000 + b"';\n"
    chunks = [sql[i : i + 100] for i in range(0, len(sql), 100)]
    assert len(list(split_statements(chunks, max_statement_bytes=6000))) == 2
    with pytest.raises(StatementTooLong):
        list(split_statements(chunks, max_statement_bytes=1000))


def test_an_endless_statement_is_refused_once_it_passes_the_limit_not_once_it_is_whole():
    # Given a statement whose string never ends: an endless stream of chunks, counted as they are read
    read = 0

    def endless():
        nonlocal read
        yield b"SELECT 1;\n-- a comment\nINSERT INTO t VALUES ('"
        while True:
            read += 1
            yield b"x" * 100

    # When it is split with a limit of 1,000 bytes
    with pytest.raises(StatementTooLong) as refused:
        list(split_statements(endless(), max_statement_bytes=1000))
    # Then it is refused after about that many bytes, naming where it starts
    assert read < 20
    assert (refused.value.number, refused.value.line, refused.value.limit) == (2, 3, 1000)


def test_a_whole_statement_past_the_limit_is_refused_and_one_at_it_passes():
    # Given statements of 1,000 and 1,001 bytes, each arriving in one chunk with what follows
    at_limit = b"SELECT '" + b"x" * 991 + b"'"
    assert len(at_limit) == 1000
    over = b"SELECT '" + b"x" * 992 + b"'"
    # When split with a limit of 1,000 bytes; Then the first passes whole, the second is refused
    assert [s.sql for s in split_statements([at_limit + b";\n"], max_statement_bytes=1000)] == [at_limit]
    with pytest.raises(StatementTooLong):
        list(split_statements([over + b";\nSELECT 1;\n"], max_statement_bytes=1000))


def test_an_endless_comment_is_refused_once_it_passes_the_limit():
    # Given a comment that never closes, between statements
    def endless():
        yield b"SELECT 1;\n/* "
        for _ in range(10_000):
            yield b"y" * 100

    # When split with a limit; Then it stops there, not at the end of the stream
    with pytest.raises(StatementTooLong):
        list(split_statements(endless(), max_statement_bytes=1000))
