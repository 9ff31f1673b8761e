"""Replayed DDL points names qualified by the restored database at the target, and nothing else:
text inside strings and comments is the data and the documentation of the schema, kept as written."""

import pytest

from cloudbackup.mysql.qualifiers import renamed_qualifiers


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            b"ALTER TABLE shop.t COMMENT 'mirror of shop.t on the replica'",
            b"ALTER TABLE `shop_r`.t COMMENT 'mirror of shop.t on the replica'",
        ),
        (
            b"CREATE VIEW `shop`.v AS SELECT 'shop.x' AS s, \"shop.y\" AS d FROM `shop`.`t` /* shop.t */",
            b"CREATE VIEW `shop_r`.v AS SELECT 'shop.x' AS s, \"shop.y\" AS d FROM `shop_r`.`t` /* shop.t */",
        ),
        (
            b"ALTER TABLE t ADD COLUMN note VARCHAR(50) DEFAULT 'see shop.site'",
            b"ALTER TABLE t ADD COLUMN note VARCHAR(50) DEFAULT 'see shop.site'",
        ),
        # an escaped quote does not end a string; a doubled one neither
        (
            b"INSERT INTO shop.t VALUES ('it\\'s shop.t', 'x''shop.u'), (shop.f(1))",
            b"INSERT INTO `shop_r`.t VALUES ('it\\'s shop.t', 'x''shop.u'), (`shop_r`.f(1))",
        ),
        # a backquoted name holding a quote, and line comments
        (
            b"CREATE TABLE shop.`it's` (a INT) -- shop.t\n# shop.u\n",
            b"CREATE TABLE `shop_r`.`it's` (a INT) -- shop.t\n# shop.u\n",
        ),
        # a conditional comment is code: its names are read
        (
            b"CREATE /*!50001 VIEW shop.v AS SELECT 1 */",
            b"CREATE /*!50001 VIEW `shop_r`.v AS SELECT 1 */",
        ),
        # another database whose name ends like it, and a column named like it
        (b"UPDATE myshop.t SET shop = 1", b"UPDATE myshop.t SET shop = 1"),
        # a user variable whose name holds a dot, and a database whose name ends in it after UTF-8
        (b"SET @shop.t = 1", b"SET @shop.t = 1"),
        ("UPDATE caféshop.t SET a = 1".encode(), "UPDATE caféshop.t SET a = 1".encode()),
        # a name after a dot is a table's or a column's
        (b"SELECT other.shop.t FROM other.shop", b"SELECT other.shop.t FROM other.shop"),
        # a `--` before a carriage return starts a comment too
        (b"DROP TABLE t --\rshop.t\n", b"DROP TABLE t --\rshop.t\n"),
    ],
)
def test_only_names_qualified_by_the_database_are_renamed(statement, expected):
    assert renamed_qualifiers(statement, "shop", "shop_r") == expected


def test_without_backslash_escapes_a_backslash_ends_no_string_early():
    # Under NO_BACKSLASH_ESCAPES, 'a\' is a whole string: what follows is code again
    statement = b"ALTER TABLE shop.t COMMENT 'a\\', ENGINE = InnoDB, RENAME TO shop.u"
    assert renamed_qualifiers(statement, "shop", "shop_r", escapes=False) == (
        b"ALTER TABLE `shop_r`.t COMMENT 'a\\', ENGINE = InnoDB, RENAME TO `shop_r`.u"
    )


@pytest.mark.parametrize(
    ("database", "statement"),
    [
        ("2024", b"SELECT 2024.5, 2024.e1 FROM t"),  # a name all digits is a number when bare
        ("my.db", b"SELECT my.db.t FROM my.db"),  # database my, table db
    ],
)
def test_a_database_name_that_cannot_be_written_bare_is_only_found_quoted(database, statement):
    quoted = f"`{database}`".encode()
    assert renamed_qualifiers(statement, database, "x") == statement
    assert renamed_qualifiers(quoted + b".t", database, "x") == b"`x`.t"
