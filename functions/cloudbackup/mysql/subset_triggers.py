"""A restore of some tables leaves out the triggers naming tables it does not give the target.

`restore --table item` into a new database created item's trigger writing into log, which the restore
did not bring: every insert into item then failed (error 1146). Such triggers are dropped in the private
staging database before it is published, and the restore says which (as a backup without a table
leaves out the triggers naming it, mysql/dump.py). An in-place restore keeps them where the target
already has the tables they name.
"""

from __future__ import annotations

from collections.abc import Collection

from cloudbackup.dburl import DbSettings
from cloudbackup.mysql.connection import connect
from cloudbackup.mysql.identifiers import quote_identifier
from cloudbackup.mysql.program_names import triggers_naming
from cloudbackup.mysql.staging import schema_exists
from cloudbackup.mysql.triggers import triggers_by_table


def leave_out_triggers(
    db: DbSettings, staging: str, target: str, backup_tables: Collection[str], restored: Collection[str]
) -> list[str]:
    """Drop from `staging` the triggers naming a table of the backup that neither the restore
    (`restored`) nor the target already holds; their names."""
    with connect(db, database=staging) as conn, conn.cursor() as cur:
        held: set[str] = set()
        if schema_exists(cur, target):
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (target,))
            held = {str(name) for (name,) in cur.fetchall()}
        absent = set(backup_tables) - set(restored) - held
        cur.execute("SELECT @@lower_case_table_names")
        fold = bool(int(cur.fetchone()[0]))
        naming = triggers_naming(cur, staging, triggers_by_table(cur, staging), absent, fold=fold)
        for trigger in naming:
            cur.execute(f"DROP TRIGGER {quote_identifier(trigger)}")
    return naming
