"""How the loader treats each statement, and how DEFINER clauses are kept or rewritten."""

from __future__ import annotations

import pytest

from cloudbackup.mysql.definer import DefinerRewriter, definer_error_hint, object_name
from cloudbackup.mysql.load import classify, table_of


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        (b"INSERT INTO `t` VALUES (1),(2)", "rows"),
        (b"INSERT INTO `t` (`a`) VALUES (1)", "rows"),
        (b"REPLACE INTO t VALUES (1)", "rows"),
        (b"INSERT INTO t SELECT * FROM u", "once"),  # reads another table: keeps its place
        (b"/*!40101 SET NAMES utf8mb4 */", "session"),
        (b"SET sql_mode = 'ANSI_QUOTES'", "session"),
        (b"SET @@GLOBAL.gtid_slave_pos = '0-1-2'", "once"),  # global state: once, never per connection
        (b"LOCK TABLES `t` WRITE", "skip"),
        (b"UNLOCK TABLES", "skip"),
        (b"USE `sakila`", "use"),
        (b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `sakila`", "use"),
        (b"/*!40000 DROP DATABASE IF EXISTS `sakila`*/", "use"),
        (b"CREATE TABLE t (a int)", "once"),
        (b"commit", "session"),
    ],
)
def test_classify(sql, kind):
    assert classify(sql) == kind


def test_current_rewrites_other_definers_and_names_the_objects():
    rewriter = DefinerRewriter("current", "me@%")
    trigger = (
        b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `t_ai` AFTER INSERT ON t"
    )
    view = b"CREATE ALGORITHM=UNDEFINED DEFINER=`me`@`%` SQL SECURITY DEFINER VIEW `v` AS SELECT 1"
    event = (
        b"EXECUTE IMMEDIATE 'CREATE DEFINER=`root`@`127.0.0.1` EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1'"
    )
    assert b"DEFINER=CURRENT_USER" in rewriter.rewrite(trigger)
    assert b"DEFINER=CURRENT_USER" in rewriter.rewrite(view)
    assert b"DEFINER=CURRENT_USER" in rewriter.rewrite(event)
    # Only those whose definer was someone else are reported
    assert rewriter.rewritten == [
        "trigger t_ai (definer root@localhost)",
        "event e (definer root@127.0.0.1)",
    ]


def test_rows_are_never_rewritten():
    rewriter = DefinerRewriter("current", "me@%")
    row = b"INSERT INTO t VALUES ('DEFINER=`root`@`localhost`')"
    assert rewriter.rewrite(row) == row
    assert (
        DefinerRewriter("keep", "me@%")
        .rewrite(b"CREATE DEFINER=`a`@`b` VIEW v AS SELECT 1")
        .startswith(b"CREATE DEFINER=`a`@`b`")
    )


def test_the_hint_for_a_refused_definer_suggests_current():
    sql = b"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() SELECT 1"
    hint = definer_error_hint(1227, sql, "keep")
    assert "procedure p has DEFINER root@localhost" in hint
    assert "--definer current" in hint
    assert definer_error_hint(1064, sql, "keep") == ""
    assert object_name(b"CREATE VIEW `a``b` AS SELECT 1") == "view `a``b`"


@pytest.mark.parametrize(
    ("sql", "kind", "table"),
    [
        (b"INSERT INTO `bench_rows` VALUES (1)", "rows", b"bench_rows"),
        (b"INSERT IGNORE INTO Film (a) VALUES (1)", "rows", b"film"),
        (b"/*!40000 ALTER TABLE `film` DISABLE KEYS */", "once", b"film"),
        (b"DROP TABLE IF EXISTS `db`.`a``b`", "once", b"a`b"),
        (
            b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER t BEFORE INSERT ON film FOR",
            "once",
            b"film",
        ),
        (b"CREATE VIEW v AS SELECT * FROM film", "once", None),  # no table of its own: waits for all
    ],
)
def test_the_table_a_statement_belongs_to(sql, kind, table):
    # DDL waits only for the rows of its own table, so the same name must come out of both
    assert table_of(sql, kind) == table
