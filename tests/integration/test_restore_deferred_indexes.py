"""Restores build secondary indexes after the rows: the same tables come back, SHOW CREATE for SHOW CREATE."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cloudbackup.dburl import DbSettings
from cloudbackup.mysql.load import Loader
from cloudbackup.mysql.splitter import Statement
from cloudbackup.restore import restore_backup, restore_dump_file
from tests.fixtures.compare import assert_databases_equal
from tests.fixtures.mariadb import run_sql
from tests.integration.restore_helpers import back_up

pytestmark = pytest.mark.integration

INDEXED = [
    "CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(80) NOT NULL, UNIQUE KEY email (email))",
    "CREATE TABLE orders (id INT NOT NULL AUTO_INCREMENT, customer INT NOT NULL, code CHAR(8) NOT NULL, "
    "placed DATETIME NOT NULL, total DECIMAL(10,2), note VARCHAR(40), PRIMARY KEY (id), "
    "UNIQUE KEY code (code), KEY placed (placed), KEY total_desc (total DESC) COMMENT 'by total', "
    "KEY customer_placed (customer, placed), FULLTEXT KEY note (note), "
    "CONSTRAINT orders_customer FOREIGN KEY (customer) REFERENCES customers (id) ON DELETE CASCADE)",
    "CREATE TABLE tags (n INT NOT NULL, k INT NOT NULL AUTO_INCREMENT, PRIMARY KEY (n, k), KEY k (k), "
    "KEY n_desc (n DESC))",
    "INSERT INTO customers VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com')",
    "INSERT INTO orders (customer, code, placed, total, note) VALUES "
    "(1, 'A0000001', '2026-01-01 10:00:00', 10.50, 'first order'), "
    "(2, 'A0000002', '2026-01-02 11:00:00', 99.99, 'second one'), "
    "(3, 'A0000003', '2026-01-03 12:00:00', NULL, NULL)",
    "INSERT INTO tags (n) VALUES (1), (1), (2)",
]


@pytest.fixture
def sent_later(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The statements the loader ran beside the others after the rows (the real loader, observed)."""
    seen: list[bytes] = []
    original = Loader.run_parallel

    def observed(self: Loader, stmt: Statement, where: str) -> None:
        seen.append(stmt.sql)
        original(self, stmt, where)

    monkeypatch.setattr(Loader, "run_parallel", observed)
    return seen


def test_a_backup_restores_with_indexes_built_after_the_rows(
    db_settings: DbSettings, make_database: Callable[[str], str], tmp_path: Path, sent_later: list[bytes]
) -> None:
    # Given a database whose tables have unique, secondary, descending, composite, fulltext and foreign keys
    source = make_database("di")
    run_sql(db_settings, source, *INDEXED)
    entry = back_up(db_settings, source, tmp_path)
    # When it is restored
    target = make_database("dt")
    restore_backup(db_settings, entry, target_database=target, jobs=2)
    # Then every object is as in the source, SHOW CREATE for SHOW CREATE
    assert_databases_equal(db_settings, source, target)
    # And the secondary indexes and the foreign key were added after the rows, each table's in one ALTER
    assert sorted(sent_later) == sorted(
        [
            b"ALTER TABLE `customers` ADD UNIQUE KEY `email` (`email`)",
            b"ALTER TABLE `orders` ADD UNIQUE KEY `code` (`code`), ADD KEY `placed` (`placed`), "
            b"ADD KEY `total_desc` (`total` DESC) COMMENT 'by total', "
            b"ADD KEY `customer_placed` (`customer`,`placed`)",
            b"ALTER TABLE `tags` ADD KEY `n_desc` (`n` DESC)",
            b"ALTER TABLE `orders` ADD CONSTRAINT `orders_customer` FOREIGN KEY (`customer`) "
            b"REFERENCES `customers` (`id`) ON DELETE CASCADE",
        ]
    )


def test_a_dump_that_alters_a_table_later_gets_the_table_as_the_source_had_it(
    db_settings: DbSettings, make_database: Callable[[str], str], tmp_path: Path
) -> None:
    # Given a dump file (another tool's) that drops one of a table's indexes after its rows
    dump = tmp_path / "later.sql"
    dump.write_bytes(
        b"CREATE TABLE `t` (\n"
        b"  `id` int NOT NULL,\n"
        b"  `a` int DEFAULT NULL,\n"
        b"  `b` int DEFAULT NULL,\n"
        b"  PRIMARY KEY (`id`),\n"
        b"  KEY `a` (`a`),\n"
        b"  KEY `b` (`b`)\n"
        b") ENGINE=InnoDB;\n"
        b"INSERT INTO `t` VALUES (1,1,1),(2,2,2);\n"
        b"ALTER TABLE `t` DROP INDEX `a`;\n"
    )
    target = make_database("dl")
    # When it is restored
    restore_dump_file(db_settings, str(dump), target_database=target)
    # Then the index the dump dropped is gone and the other is there
    reference = make_database("dr")
    run_sql(
        db_settings,
        reference,
        "CREATE TABLE t (id int NOT NULL, a int DEFAULT NULL, b int DEFAULT NULL, PRIMARY KEY (id), "
        "KEY b (b)) ENGINE=InnoDB",
        "INSERT INTO t VALUES (1,1,1),(2,2,2)",
    )
    assert_databases_equal(db_settings, reference, target)
