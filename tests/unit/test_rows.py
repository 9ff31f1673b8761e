"""Row formatting rules and statement packing, without a server."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudbackup.mysql.rows import (
    Column,
    RowTooLarge,
    escape_line_breaks,
    insert_prefix,
    is_generated,
    may_hold_line_breaks,
    pack_statements,
    row_query,
    statement_limit,
    value_expression,
)

PREFIX = b"INSERT INTO `t` (`a`) VALUES "


def col(data_type: str, *, charset: str | None = None, nullable: bool = True, name: str = "c") -> Column:
    return Column(name=name, data_type=data_type, charset=charset, nullable=nullable)


@pytest.mark.parametrize(
    ("data_type", "charset", "expected"),
    [
        ("int", None, "IF(`c` IS NULL,'NULL',`c`)"),
        ("decimal", None, "IF(`c` IS NULL,'NULL',`c`)"),
        ("double", None, "IF(`c` IS NULL,'NULL',IF(`c`=0,CONCAT(`c`,'e0'),`c`))"),
        (
            "float",
            None,
            "IF(`c` IS NULL,'NULL',IF(`c`=0,CONCAT(CAST(`c` AS DOUBLE),'e0'),CAST(`c` AS DOUBLE)))",
        ),
        ("bit", None, "IF(`c` IS NULL,'NULL',CONCAT('b''',BIN(`c`),''''))"),
        ("varbinary", None, "IF(`c` IS NULL,'NULL',CONCAT('X''',HEX(`c`),''''))"),
        ("longblob", None, "IF(`c` IS NULL,'NULL',CONCAT('X''',HEX(`c`),''''))"),
        ("point", None, "IF(`c` IS NULL,'NULL',CONCAT('0x',HEX(`c`)))"),
        ("varchar", "utf8mb4", "QUOTE(`c`)"),
        ("longtext", "utf8mb3", "QUOTE(`c`)"),
        ("json", "utf8mb4", "QUOTE(`c`)"),
        ("varchar", "latin1", "IF(`c` IS NULL,'NULL',CONCAT('_latin1 X''',HEX(`c`),''''))"),
        ("enum", "cp1251", "IF(`c` IS NULL,'NULL',CONCAT('_cp1251 X''',HEX(`c`),''''))"),
        ("datetime", None, "QUOTE(`c`)"),
        ("uuid", None, "QUOTE(`c`)"),
    ],
)
def test_each_type_is_rendered_by_an_exact_server_expression(data_type, charset, expected):
    assert value_expression(col(data_type, charset=charset)) == expected


def test_not_null_columns_skip_the_null_guard():
    assert value_expression(col("bigint", nullable=False)) == "`c`"
    assert value_expression(col("blob", nullable=False)) == "CONCAT('X''',HEX(`c`),'''')"


def test_row_query_and_insert_name_every_column_with_quoted_identifiers():
    columns = [col("int", name="id", nullable=False), col("varchar", charset="utf8mb4", name="we`ird")]
    assert row_query("db", "t`1", columns) == (
        "SELECT CONCAT(CAST('(' AS BINARY),`id`,',',QUOTE(`we``ird`),')') FROM `db`.`t``1`"
    )
    assert insert_prefix("t`1", columns) == b"INSERT INTO `t``1` (`id`,`we``ird`) VALUES "


def test_statement_limit_is_the_server_packet_less_room_for_the_protocol():
    assert 4 << 20 > statement_limit(4 << 20) > (4 << 20) - (64 << 10)
    assert 1 << 30 > statement_limit(1 << 30) > 16 << 20  # a row past 16 MiB is written, not refused


rows_strategy = st.lists(
    st.lists(st.binary(min_size=3, max_size=300).map(lambda b: b"(" + b + b")"), max_size=40), max_size=30
)


@given(batches=rows_strategy, fill=st.integers(min_value=40, max_value=2000))
def test_packing_keeps_every_row_in_order_and_every_statement_under_the_limit(batches, fill):
    # Given batches of row literals as they come off the wire, none larger than a statement can hold
    limit = fill + 400
    # When they are packed into statements
    statements = list(pack_statements(batches, PREFIX, fill=fill, limit=limit))
    # Then each statement is one INSERT under the limit, and together they hold every row in order
    flat = [row for batch in batches for row in batch]
    assert sum(n for _, n in statements) == len(flat)
    assert all(len(s) <= limit for s, _ in statements)
    assert all(s.startswith(PREFIX) and s.endswith(b";\n") for s, _ in statements)
    body = b",".join(s[len(PREFIX) : -2] for s, _ in statements)
    assert body == b",".join(flat)
    # and a statement is only cut short when the next row would not fit
    for (s, _), next_row in zip(statements, _first_rows_after(statements, flat), strict=False):
        assert len(s) + len(next_row) + 1 > fill


def _first_rows_after(statements, flat):
    seen = 0
    for _, n in statements[:-1]:
        seen += n
        yield flat[seen]


def test_a_row_larger_than_the_limit_is_an_error_not_an_oversized_statement():
    big = b"(" + b"x" * 5000 + b")"
    with pytest.raises(RowTooLarge):
        list(pack_statements([[b"(1)", big]], PREFIX, fill=1000, limit=4000))


def test_a_row_larger_than_the_fill_but_under_the_limit_gets_a_statement_of_its_own():
    big = b"(" + b"x" * 1500 + b")"
    statements = list(pack_statements([[b"(1)", big, b"(2)"]], PREFIX, fill=1000, limit=4000))
    assert [n for _, n in statements] == [1, 1, 1]
    assert statements[1][0] == PREFIX + big + b";\n"


def test_a_null_row_means_the_server_could_not_build_it():
    # The server returns NULL for a CONCAT longer than its max_allowed_packet.
    with pytest.raises(RowTooLarge):
        list(pack_statements([[b"(1)", None]], PREFIX, fill=1000, limit=4000))


@pytest.mark.parametrize(
    ("extra", "generated"),
    [
        ("VIRTUAL GENERATED", True),
        ("STORED GENERATED", True),
        ("STORED GENERATED, INVISIBLE", True),  # MariaDB's ROW START / ROW END
        ("DEFAULT_GENERATED", False),  # MySQL: an expression default, inserted like any value
        ("DEFAULT_GENERATED on update CURRENT_TIMESTAMP", False),
        ("INVISIBLE", False),
        ("auto_increment", False),
        ("", False),
    ],
)
def test_generated_columns_are_recognised_on_both_servers(extra, generated):
    assert is_generated(extra) is generated


def test_raw_line_breaks_become_escapes_and_rows_stay_apart():
    # Given row literals as QUOTE() leaves them: CR and LF raw inside the quoted strings
    batches = [[b"(1,'a\r\nb')", b"(2,'plain')", b"(3,'\n\\\\n')"], [b"(4,'x')"]]
    # When they are escaped for the stock client
    escaped = list(escape_line_breaks(batches))
    # Then each break is a backslash escape, the rows keep their count and order, and clean batches pass
    assert escaped == [[b"(1,'a\\r\\nb')", b"(2,'plain')", b"(3,'\\n\\\\n')"], [b"(4,'x')"]]
    assert escaped[1] is batches[1]


def test_a_batch_with_a_row_the_server_could_not_build_is_passed_on_for_packing_to_refuse():
    batch = [b"(1,'a\n')", None]
    assert list(escape_line_breaks([batch])) == [batch]
    with pytest.raises(RowTooLarge):
        list(pack_statements(escape_line_breaks([batch]), PREFIX, fill=1000, limit=4000))


def test_only_quoted_utf8_text_can_carry_a_line_break():
    assert may_hold_line_breaks([col("int"), col("varchar", charset="utf8mb4")])
    assert not may_hold_line_breaks([col("int"), col("json", charset="utf8mb4"), col("blob")])
    assert not may_hold_line_breaks([col("varchar", charset="latin1")])  # written as hex


def test_double_quotes_stay_as_quote_wrote_them():
    # Given a row literal with `"` in text and JSON, as QUOTE() leaves them
    batch = [b"""(1,'say "hi"','{"a": 1}')"""]
    # When it is escaped for the stock client
    (escaped,) = escape_line_breaks([batch])
    # Then it is unchanged: restore drills compare a re-dump with digests recorded over these bytes
    # by earlier backups, so a row's bytes must not change for the same content
    assert escaped == batch
