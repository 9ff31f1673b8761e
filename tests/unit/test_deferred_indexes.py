"""Which indexes a restore builds after the rows, and which stay in the CREATE TABLE."""

from __future__ import annotations

from cloudbackup.mysql.deferred_indexes import defer_indexes

INDEXED = b"""CREATE TABLE `orders` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `customer` int NOT NULL,
  `code` varchar(20) NOT NULL,
  `note` text,
  PRIMARY KEY (`id`),
  UNIQUE KEY `code` (`code`),
  KEY `customer` (`customer`,`code`) COMMENT 'lookups',
  FULLTEXT KEY `note` (`note`),
  CONSTRAINT `orders_customer` FOREIGN KEY (`customer`) REFERENCES `customers` (`id`),
  CONSTRAINT `positive` CHECK ((`customer` > 0))
) ENGINE=InnoDB AUTO_INCREMENT=1001 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci"""


def test_secondary_and_foreign_keys_leave_the_create_and_come_back_as_alters() -> None:
    deferred = defer_indexes(INDEXED)
    assert deferred is not None
    # The CREATE keeps the columns, the primary key, the FULLTEXT index and the CHECK
    assert deferred.create == (
        b"CREATE TABLE `orders` (\n"
        b"  `id` bigint NOT NULL AUTO_INCREMENT,\n"
        b"  `customer` int NOT NULL,\n"
        b"  `code` varchar(20) NOT NULL,\n"
        b"  `note` text,\n"
        b"  PRIMARY KEY (`id`),\n"
        b"  FULLTEXT KEY `note` (`note`),\n"
        b"  CONSTRAINT `positive` CHECK ((`customer` > 0))\n"
        b") ENGINE=InnoDB AUTO_INCREMENT=1001 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci"
    )
    # The secondary indexes come back in one ALTER, in the source's order, options kept
    assert deferred.index_statement() == (
        b"ALTER TABLE `orders` ADD UNIQUE KEY `code` (`code`), "
        b"ADD KEY `customer` (`customer`,`code`) COMMENT 'lookups'"
    )
    assert deferred.foreign_key_statement() == (
        b"ALTER TABLE `orders` ADD CONSTRAINT `orders_customer` FOREIGN KEY (`customer`) "
        b"REFERENCES `customers` (`id`)"
    )


def test_the_index_an_auto_increment_column_needs_stays() -> None:
    sql = b"""CREATE TABLE `t` (
  `a` int NOT NULL,
  `n` int NOT NULL AUTO_INCREMENT,
  PRIMARY KEY (`a`,`n`),
  KEY `n` (`n`),
  KEY `other` (`a`)
) ENGINE=InnoDB"""
    deferred = defer_indexes(sql)
    assert deferred is not None
    assert b"  KEY `n` (`n`)" in deferred.create
    assert deferred.index_statement() == b"ALTER TABLE `t` ADD KEY `other` (`a`)"


def test_tables_that_are_not_innodb_or_are_versioned_are_left_alone() -> None:
    myisam = INDEXED.replace(b"ENGINE=InnoDB", b"ENGINE=MyISAM")
    versioned = INDEXED + b" WITH SYSTEM VERSIONING"
    assert defer_indexes(myisam) is None
    assert defer_indexes(versioned) is None


def test_a_table_with_only_a_primary_key_or_another_statement_is_unchanged() -> None:
    plain = b"CREATE TABLE `p` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB"
    assert defer_indexes(plain) is None
    assert defer_indexes(b"INSERT INTO `p` VALUES (1)") is None
    assert defer_indexes(b"CREATE TABLE `x` LIKE `p`") is None


def test_a_definition_over_several_lines_leaves_the_create_as_it_is() -> None:
    # (a CHECK written with a newline, as MariaDB keeps it): not the one-definition-per-line layout
    sql = INDEXED.replace(b"CHECK ((`customer` > 0))", b"CHECK ((`customer`\n> 0))")
    assert defer_indexes(sql) is None


def test_long_unique_keys_stay_inline() -> None:
    sql = b"""CREATE TABLE `h` (
  `id` int NOT NULL,
  `blob` blob,
  PRIMARY KEY (`id`),
  UNIQUE KEY `blob` (`blob`) USING HASH,
  KEY `k` (`id`)
) ENGINE=InnoDB"""
    deferred = defer_indexes(sql)
    assert deferred is not None
    assert b"UNIQUE KEY `blob` (`blob`) USING HASH" in deferred.create
    assert deferred.index_statement() == b"ALTER TABLE `h` ADD KEY `k` (`id`)"
