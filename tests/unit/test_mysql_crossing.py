"""The text rules behind MySQL round trips and restores across flavours (no server needed)."""

from cloudbackup.mysql.sql_modes import for_mysql
from cloudbackup.mysql.tables import inherited_collations
from cloudbackup.preflight.contents import BackupContents
from cloudbackup.preflight.rules import stored_program_problem
from cloudbackup.preflight.target import TargetServer

MYSQL_TABLE = b"""CREATE TABLE `t` (
  `id` int NOT NULL,
  `inherits` varchar(40) COLLATE utf8mb4_0900_as_cs DEFAULT NULL,
  `named` varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs DEFAULT NULL,
  `other` enum('a COLLATE x','b') COLLATE utf8mb4_bin DEFAULT NULL,
  `note` varchar(40) COLLATE utf8mb4_0900_as_cs DEFAULT 'COLLATE utf8mb4_0900_as_cs',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_as_cs"""


def test_a_column_inheriting_the_table_collation_is_written_without_naming_it():
    lines = inherited_collations(MYSQL_TABLE).splitlines()
    assert lines[2] == b"  `inherits` varchar(40) DEFAULT NULL,"
    assert lines[3] == b"  `named` varchar(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs DEFAULT NULL,"
    assert (
        lines[4] == b"  `other` enum('a COLLATE x','b') COLLATE utf8mb4_bin DEFAULT NULL,"
    )  # not the table's
    assert lines[5] == b"  `note` varchar(40) DEFAULT 'COLLATE utf8mb4_0900_as_cs',"


def test_a_table_without_a_collation_option_is_left_alone():
    ddl = b"CREATE TABLE `t` (\n  `v` varchar(4) COLLATE latin1_bin\n) ENGINE=InnoDB DEFAULT CHARSET=latin1"
    assert inherited_collations(ddl) == ddl


def test_sql_modes_mysql_removed_are_dropped_for_mysql_and_nothing_else():
    sql = b"SET sql_mode = 'STRICT_TRANS_TABLES,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION', x = 1"
    assert for_mysql(sql) == b"SET sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', x = 1"
    assert for_mysql(b"SET sql_mode = 'NO_AUTO_CREATE_USER'") == b"SET sql_mode = ''"
    assert for_mysql(b"SET sql_mode = 'ORACLE'") == b"SET sql_mode = 'ORACLE'"  # refused there, not hidden
    insert = b"INSERT INTO t VALUES ('sql_mode = ''NO_AUTO_CREATE_USER''')"
    assert for_mysql(insert) == insert


ROUTINES = b"""DELIMITER ;;
CREATE DEFINER=`root`@`localhost` FUNCTION `f_safe`(x int) RETURNS int
    DETERMINISTIC
    COMMENT 'it''s fine'
RETURN x
;;
CREATE DEFINER="root"@"localhost" FUNCTION "f_ansi"() RETURNS int
    NO SQL
RETURN 1
;;
CREATE DEFINER=`root`@`localhost` FUNCTION `f_bump`() RETURNS int
    MODIFIES SQL DATA
    COMMENT 'DETERMINISTIC in a comment does not count'
RETURN 1
;;
CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()
    MODIFIES SQL DATA
SELECT 1
;;
"""


def binlogging(*, has_super: bool) -> TargetServer:
    empty: frozenset[str] = frozenset()
    return TargetServer("mysql", "9.7.4", True, has_super, empty, empty, empty)


def test_only_functions_neither_deterministic_nor_read_only_are_named():
    problem = stored_program_problem(BackupContents(routines=ROUTINES), binlogging(has_super=True))
    assert problem is not None
    assert "function(s) f_bump are declared neither" in problem


def test_without_super_any_function_or_trigger_is_a_problem():
    problem = stored_program_problem(BackupContents(routines=b"", triggers=2), binlogging(has_super=False))
    assert problem is not None
    assert "2 trigger(s)" in problem
    off = TargetServer("mysql", "9.7.4", False, False, frozenset(), frozenset(), frozenset())
    assert stored_program_problem(BackupContents(routines=ROUTINES, triggers=2), off) is None
