"""The restore's check before any change: the target can create everything the backup holds."""

from __future__ import annotations

from cloudbackup.catalog import CatalogEntry
from cloudbackup.dburl import DbSettings
from cloudbackup.errors import OperationError
from cloudbackup.format.manifest import Frame
from cloudbackup.mysql.name_case import Created, dump_name_case_references
from cloudbackup.mysql.staging import MAX_NAME
from cloudbackup.preflight.contents import read_contents
from cloudbackup.preflight.rules import (
    crossing_problems,
    name_case_problem,
    name_case_reference_problem,
    primary_key_problem,
    stored_program_problem,
)
from cloudbackup.preflight.target import (
    definers_refused,
    inspect_target,
    routine_bodies_hidden,
    settings_refused,
)


def check_restorable(
    db: DbSettings,
    entry: CatalogEntry,
    frames: list[Frame],
    target_database: str,
) -> None:
    """Raise one line naming what the target server would refuse, before anything is created.

    A backup from the other server flavour (MariaDB into MySQL, or back) has its table definitions
    scanned for what only its own flavour has; a server logging binary logs is checked for the rules
    it puts on creating stored functions and triggers; a server requiring a primary key on every table,
    for tables without one; a server comparing table names without case, for tables that would be one.
    """
    manifest = entry.manifest
    target = inspect_target(db)
    refused = f"restore of backup {manifest.id} into {target_database} refused before any change: "
    folded = name_case_problem((f.name for f in frames if f.kind == "table"), target)
    if folded:
        raise OperationError(refused + folded)
    # (a subset restore creates the triggers of its tables, and no routine or event)
    restored = {f.name for f in frames if f.kind == "table"}
    whole = any(f.kind == "routines" for f in frames)
    cased = name_case_reference_problem(
        [r for r in manifest.name_case_references if whole or (r.kind == "trigger" and r.table in restored)],
        manifest.lower_case_table_names,
        target,
    )
    if cased:
        raise OperationError(refused + cased)
    crossing = manifest.server.flavour != target.flavour
    if not crossing and not target.checks_stored_programs and not target.requires_primary_key:
        return
    contents = read_contents(entry, frames, with_tables=crossing or bool(target.requires_primary_key))
    if crossing:
        problems = crossing_problems(contents, target, charset=manifest.charset, collation=manifest.collation)
        if problems:
            source = f"{manifest.server.flavour} {manifest.server.version}"
            raise OperationError(
                refused
                + f"this {source} backup holds what {target.flavour} {target.version} cannot create: "
                + "; ".join(problems)
            )
    for problem in (primary_key_problem(contents, target), stored_program_problem(contents, target)):
        if problem:
            raise OperationError(refused + problem)


def check_dump_name_case(db: DbSettings, made: list[Created], what: str, target_database: str) -> None:
    """A plain dump file's tables against its programs' references, as check_restorable checks a backup's
    manifest: on a server comparing table names with case, a program naming a table in another case than
    the file's own fails at its first use; on one comparing without, tables alike but for case clash."""
    if not made:
        return
    target = inspect_target(db)
    refused = f"{what} into {target_database} refused before any change: "
    folded = name_case_problem(sorted({c.name for c in made if c.kind == "table"}), target)  # (once each)
    if folded:
        raise OperationError(refused + folded.replace("the backup holds", "the file holds"))
    cased = name_case_reference_problem(dump_name_case_references(made), None, target)
    if cased:
        for backup, dump in (("the backup was made", "the file was made"), ("back up again", "dump again")):
            cased = cased.replace(backup, dump)
        raise OperationError(refused + cased)


def check_definers(db: DbSettings, definers: dict[str, str], what: str, target_database: str) -> None:
    """`definers`: each object a restore (`what`) creates with its DEFINER kept, and that definer, as
    the check before loading found them. An account that may not name another definer (RDS's master
    user) is refused before anything changes, not at the first such object once the tables before it
    are loaded (a trigger comes after its table's rows). The server is asked only when some definer is
    not the restoring account itself."""
    probe = f"{target_database}__cbprobe"
    if not definers or len(probe) > MAX_NAME:  # (nothing to ask the server about)
        return
    refused, user = definers_refused(db, probe, definers.values())
    if not refused:
        _check_routine_bodies_readable(db, definers, user, what, target_database)
        return
    by_definer: dict[str, list[str]] = {}
    for name, account in definers.items():
        if account in refused:
            by_definer.setdefault(account, []).append(name)
    named = "; ".join(
        f"DEFINER {account} of {', '.join(names)} (the server asks for {refused[account]})"
        for account, names in by_definer.items()
    )
    raise OperationError(
        f"{what} into {target_database} refused before any change: {user} may not keep another account's "
        f"definer (it needs SET_ANY_DEFINER on MySQL, SET USER on MariaDB, or SUPER; on MySQL also "
        f"SYSTEM_USER for a definer holding it): {named}; rerun with --definer current to create them as "
        "the restoring user"
    )


def check_session_settings(
    db: DbSettings, settings: dict[tuple[str, str], str], what: str, target_database: str
) -> None:
    """`settings`: each (session variable, named value) the dump sets, with the first object created
    under it, as the check before loading found them. One the target lacks (MySQL's collation
    utf8mb4_0900_ai_ci on MariaDB, a named time zone without the time zone tables) is refused now, in one
    line naming the objects, instead of failing where the load reaches its SET."""
    if not settings:
        return
    refused = settings_refused(db, settings)
    if not refused:
        return
    named = "; ".join(
        f"{variable} {value}" + (f" ({settings[(variable, value)]})" if settings[(variable, value)] else "")
        for variable, value in refused
    )
    hint = (
        ": load the server's time zone tables (mysql_tzinfo_to_sql /usr/share/zoneinfo | mysql mysql), then "
        "restore again"
        if "time zone" in refused.values()
        else ""
    )
    lacks = " and ".join(sorted({f"{kind}s" for kind in refused.values()}))
    raise OperationError(
        f"{what} into {target_database} refused before any change: the server lacks the {lacks} the dump "
        f"sets for its objects: {named}{hint}"
    )


# What object_name calls a routine: the first word of each
_ROUTINE_KINDS = ("procedure", "function", "package")


def _check_routine_bodies_readable(
    db: DbSettings, definers: dict[str, str], user: str, what: str, target_database: str
) -> None:
    """The restore loads routines into staging and re-creates them in the target from what SHOW CREATE
    reads there (a routine cannot move between databases): one whose body the server hides from the
    restoring account would stop the restore once everything is loaded. Refused now instead."""
    routines = [
        name
        for name, account in definers.items()
        if account != user and name.split(" ", 1)[0] in _ROUTINE_KINDS
    ]
    if routines and routine_bodies_hidden(db, user):
        raise OperationError(
            f"{what} into {target_database} refused before any change: the server hides the body of a "
            f"routine another account defined from {user}, and the restore re-creates "
            f"{', '.join(sorted(routines))} from what it loaded; grant it SELECT ON mysql.proc "
            "(MariaDB before 11.3) or SHOW_ROUTINE (MySQL 8.0.20+), or rerun with --definer current to "
            "create them as the restoring user"
        )
