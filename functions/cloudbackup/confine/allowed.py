"""What a restore may run: the statement kinds that dumps contain, and nothing else.

A dump file is input from outside (an operator may restore a file anyone could have written), and the
restore runs it with an account that can usually change every database. So the statements are checked
against these lists before anything is loaded (confine/check.py); everything not listed is refused.
"""

from __future__ import annotations

# Session variables a dump may SET (plain, SESSION/LOCAL or @@SESSION.). Why each one:
SESSION_VARIABLES = frozenset(
    {
        # mysqldump/mariadb-dump headers and every stored object: how the statement text is read.
        "character_set_client",
        "character_set_results",
        "character_set_connection",
        "collation_connection",
        # the time zone TIMESTAMP values and events are written in (headers, events).
        "time_zone",
        # headers: rows load without per-row key checks; the footer puts the old values back.
        "unique_checks",
        "foreign_key_checks",
        # headers (NO_AUTO_VALUE_ON_ZERO) and every stored object's own sql_mode.
        "sql_mode",
        # headers: no notes for DROP … IF EXISTS of objects that are not there.
        "sql_notes",
        "note_verbosity",  # MariaDB 10.6.16+ headers, same purpose
        # mariadb-dump --no-autocommit: rows in one transaction per table.
        "autocommit",
        # mysqldump's identifier quoting for SHOW CREATE; harmless.
        "sql_quote_show_create",
        # MariaDB headers of tables with CHECK constraints (rows load as they were dumped).
        "check_constraint_checks",
    }
)

# Variables mysqldump sets on a server with GTIDs, to clone the server's replication state rather than
# to restore a database: the restore skips these statements (never runs them). Its writes stay in the
# binary log (replicas get the restore too), and the server's GTID history is left alone. Values: the
# scopes (as in @@scope.name, "" for @@name; lower case) each may be written with.
SKIPPED_VARIABLES = {"sql_log_bin": ("session", ""), "gtid_purged": ("global",)}

# Session variables that decide what replication sees of a session's writes: whether they reach the
# binary log and replicas (sql_log_bin; MariaDB's skip_replication; Galera's wsrep_on), the GTID and
# server id they are logged under (gtid_next; MariaDB's gtid_domain_id, gtid_seq_no, server_id), the
# thread id replicas give them, how they are logged (binlog_format, binlog_row_image). A dump sets
# sql_log_bin only at its top (skipped, above); set in a routine, trigger or event body, they would hide
# the body's writes from replicas and the binlog archive, or spend another transaction's GTID, or (a
# session keeps what a procedure it called set) have the caller's later writes to any database logged as
# statements, which no point-in-time restore of that database replays: refused there. (server_id only as
# @@… or after SESSION/LOCAL: a body may well name a local variable or parameter so.)
REPLICATION_SESSION_VARIABLES = frozenset(
    {
        *("sql_log_bin", "skip_replication", "wsrep_on", "gtid_next", "gtid_domain_id", "gtid_seq_no"),
        *("pseudo_thread_id", "binlog_format", "binlog_row_image"),
    }
)
REPLICATION_SESSION_VARIABLES_SCOPED = REPLICATION_SESSION_VARIABLES | {"server_id"}

# Functions a SET value may call (mysqldump 8 writes IF(...) / IFNULL(...) around saved values).
SET_FUNCTIONS = frozenset({"IF", "IFNULL", "COALESCE", "CONCAT"})

# Object kinds a dump creates, alters and drops (in the database it restores into).
# (PACKAGE: MariaDB's Oracle-mode packages, dumped with their routines.)
OBJECT_KINDS = frozenset(
    {"TABLE", "VIEW", "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "SEQUENCE", "INDEX", "PACKAGE"}
)

# Words that may come between CREATE/ALTER/DROP and the object kind, as SHOW CREATE and the dump tools
# write them: OR REPLACE, TEMPORARY, ALGORITHM=…, DEFINER=…, SQL SECURITY …, AGGREGATE (MariaDB
# functions), UNIQUE/FULLTEXT/SPATIAL (indexes), ONLINE/IGNORE (ALTER TABLE), JSON RELATIONAL DUALITY
# (MySQL's views of JSON documents over the database's tables).
OBJECT_PREFIX_WORDS = frozenset(
    {
        "OR",
        "REPLACE",
        "TEMPORARY",
        "ALGORITHM",
        "UNDEFINED",
        "MERGE",
        "TEMPTABLE",
        "DEFINER",
        "SQL",
        "SECURITY",
        "INVOKER",
        "AGGREGATE",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "ONLINE",
        "OFFLINE",
        "IGNORE",
        "CURRENT_USER",
        "JSON",
        "RELATIONAL",
        "DUALITY",
    }
)

# Transaction control written by mariadb-dump --no-autocommit and --single-transaction dumps.
TRANSACTION_WORDS = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "START"})

# Storage engines that reach outside the database (another server, files on the server's disk).
FOREIGN_ENGINES = frozenset({"FEDERATED", "FEDERATEDX", "CONNECT", "SPIDER", "OQGRAPH"})

# Words that never appear in a dump's code (outside strings and quoted names), wherever they stand:
# routine, trigger and event bodies run later with their definer's rights, so what they may do matters
# as much as what the dump does now.
FORBIDDEN_WORDS = {
    "OUTFILE": "writes a file on the server",
    "DUMPFILE": "writes a file on the server",
    "INFILE": "reads a file on the server",
    "LOAD_FILE": "reads a file on the server",
    "LOAD": "loads files or index caches",
    "PREPARE": "runs SQL built at run time",
    "EXECUTE": "runs SQL built at run time",
    "DEALLOCATE": "belongs to SQL built at run time",
    "GRANT": "changes privileges",
    "REVOKE": "changes privileges",
    "IDENTIFIED": "sets a password",
    "SHUTDOWN": "stops the server",
    "KILL": "ends other sessions",
    "FLUSH": "changes server state",
    "RESET": "changes server state",
    "PURGE": "deletes binary logs",
    "BINLOG": "replays binary log events",
    "INSTALL": "installs plugins or components",
    "UNINSTALL": "removes plugins or components",
    "SONAME": "loads a shared library",
    "DIRECTORY": "places files outside the data directory",
    "CONNECTION": "connects to another server",
    "GLOBAL": "changes the whole server",
    "PERSIST": "changes the whole server",
    "PERSIST_ONLY": "changes the whole server",
    "CLONE": "replaces the server's data",
    "MASTER": "changes replication",
    "REPLICATION": "changes replication",
    "USE": "switches to another database",
    "TABLESPACE": "works on tablespace files",
}

# After CREATE/ALTER/DROP/RENAME, objects that live outside the restored database.
SERVER_OBJECTS = frozenset(
    {"USER", "ROLE", "DATABASE", "SCHEMA", "SERVER", "LOGFILE", "RESOURCE", "INSTANCE", "UNDO"}
)

# A `HANDLER` word is a condition handler (allowed) after these; otherwise the HANDLER statement,
# which reads tables by name (refused).
HANDLER_PREFIXES = frozenset({"CONTINUE", "EXIT", "UNDO"})

# Words after which a two-part name a.b is a database-qualified object name, never table.column.
# (CALL: a dump's only CALLs are inside the bodies of the procedures, functions, triggers and events
# it creates, which run later, in the target, so only the name called must be the target's own; a
# CALL as a statement of its own is none a dump contains, and is refused as such.)
NAME_POSITIONS = frozenset(
    {
        "CALL",
        "FROM",
        "JOIN",
        "STRAIGHT_JOIN",
        "INTO",
        "UPDATE",
        "TABLE",
        "TABLES",
        "REFERENCES",
        "VIEW",
        "PROCEDURE",
        "FUNCTION",
        "TRIGGER",
        "EVENT",
        "SEQUENCE",
        "EXISTS",
        "TO",
        "TRUNCATE",
        "FOR",
        "DELETE",
        "DATABASE",
        "SCHEMA",
    }
)

# Loadable functions that MySQL builds in, or its components and plugins add, which change the server
# rather than compute a value (innodb_set_open_files_limit() sets a global; innodb_redo_log_archive_start()
# writes files; asynchronous_connection_failover_*() and group_replication_*() change replication;
# keyring_*(), version_tokens_*(), the locking service, the audit log and the firewall, their own
# server-wide state). Called by name from any database, without a qualifier: a call of one whose name
# starts so is refused wherever it stands (a trigger firing on the restored rows would run it).
SERVER_FUNCTION_PREFIXES = (
    "innodb_",
    "asynchronous_connection_failover_",
    "group_replication_",
    "keyring_",
    "version_tokens_",
    "service_get_",
    "service_release_",
    "audit_log_",
    "mysql_firewall_",
    "set_firewall_",
)

# What a procedure body may SHOW: its own session's diagnostics. Any other SHOW runs with the definer's rights
# and reads the whole server (SHOW FULL PROCESSLIST: every session's statements; SHOW TABLE STATUS FROM db,
# SHOW RELAYLOG EVENTS, SHOW ENGINE INNODB STATUS, …) for whoever may call the procedure.
SHOW_OF_THE_SESSION = frozenset({"WARNINGS", "ERRORS", "COUNT"})

# Functions whose first argument is a sequence name: nextval(db.s) names another database.
SEQUENCE_FUNCTIONS = frozenset({"NEXTVAL", "LASTVAL", "SETVAL"})

# Databases a restore never writes to, whatever a dump or an operator says.
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
