"""Entry point: parse the command line (see DESIGN.md), run one command, map failures to exit codes."""

from __future__ import annotations

import argparse
import atexit
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from cloudbackup.cli import stdout
from cloudbackup.errors import CloudBackupError
from cloudbackup.printable import one_line
from cloudbackup.stopping import cancel_pending_interrupt, interrupt_on_signals

# Each subcommand's implementation lives in its own module, imported only when it runs.
COMMANDS = {
    "backup": "cloudbackup.cli.cmd_backup",
    "list": "cloudbackup.cli.cmd_list",
    "restore": "cloudbackup.cli.cmd_restore",
    "verify": "cloudbackup.cli.cmd_verify",
    "prune": "cloudbackup.cli.cmd_prune",
    "show": "cloudbackup.cli.cmd_show",
    "drill": "cloudbackup.cli.cmd_drill",
    "credentials": "cloudbackup.cli.cmd_credentials",
    "binlog": "cloudbackup.cli.cmd_binlog",
}


class GivenOnce(argparse._StoreAction):
    """A flag that takes one value may be given once: of `--backup A --backup B` or `--data X --data Y`
    in a script, which one was meant is a guess (argparse would take the last without a word)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given: set[str] = namespace.__dict__.setdefault("_flags_given", set())
        if self.dest in given:
            parser.error(f"{'/'.join(self.option_strings)} given twice: give it once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class LowerCaseLevel(logging.Formatter):
    """`cloudbackup: warning: …`, as the lines the commands print themselves (the record's own level
    name stays as it is, for any other handler)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(
            logging.makeLogRecord({**record.__dict__, "levelname": record.levelname.lower()})
        )


# A flag as typed (`-b`, `--backpu=x`), not a value that starts with a minus (`-1`, `-0.5`).
_FLAG_LIKE = re.compile(r"--?[A-Za-z]")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors are one line on stderr and exit code 2. A long flag is spelt out whole (`--in` is
    not `--in-place`), and a flag that takes one value is given once (GivenOnce)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.register("action", None, GivenOnce)
        self.register("action", "store", GivenOnce)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        # argparse names a missing required flag before an unknown one; the unknown one (`-b` for
        # `--backup`) is usually why the other is missing, so it is named first.
        unknown = [
            arg
            for arg in getattr(self, "_given", [])
            if _FLAG_LIKE.match(arg) and arg.split("=", 1)[0] not in self._option_string_actions
        ]
        if unknown and message.startswith("the following arguments are required"):
            message = f"unrecognized arguments: {' '.join(unknown)}"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[OneLineParser]
else:
    _SubParsers = argparse._SubParsersAction


def add_storage_flags(p: argparse.ArgumentParser, *, writes: bool = False, choose: bool = False) -> None:
    """STORAGE (DESIGN.md). `writes`: the command writes new objects (--kms-key-id means something);
    `choose`: it reads backups, so --store may narrow it to one store."""
    g = p.add_argument_group("storage (each S3 flag also from $CLOUDBACKUP_BACKUP_BUCKET, ..._REGION, ...)")
    g.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="local backup directory (default: ~/.cloudbackup, or $CLOUDBACKUP_DATA)",
    )
    g.add_argument(
        "--backup-bucket",
        metavar="s3://BUCKET[/PREFIX]",
        help="keep backups in this S3 bucket ($CLOUDBACKUP_BACKUP_BUCKET)",
    )
    g.add_argument(
        "--backup-region",
        metavar="REGION",
        help="the bucket's AWS region ($CLOUDBACKUP_BACKUP_REGION, else $AWS_REGION, $AWS_DEFAULT_REGION)",
    )
    g.add_argument(
        "--backup-credential",
        metavar="FILE",
        help="AWS shared credentials file ($CLOUDBACKUP_BACKUP_CREDENTIAL; default: the AWS chain)",
    )
    g.add_argument(
        "--backup-profile",
        metavar="NAME",
        default=None,
        help="profile in --backup-credential ($CLOUDBACKUP_BACKUP_PROFILE)",
    )
    g.add_argument(
        "--backup-endpoint",
        metavar="URL",
        help="S3-compatible endpoint: MinIO, a local emulator ($CLOUDBACKUP_BACKUP_ENDPOINT)",
    )
    if writes:
        g.add_argument(
            "--kms-key-id", metavar="KEY", help="SSE-KMS key for new objects (default: the bucket's default)"
        )
    if choose:
        g.add_argument(
            "--store",
            choices=["local", "s3"],
            help="read only this store (default: both, when a bucket is configured)",
        )


def add_db_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db-url",
        required=True,
        metavar="URL",
        help="mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE][?ssl-mode=MODE&ssl-ca=FILE] "
        "(password also from MYSQL_PWD; MODE as the mysql client's --ssl-mode)",
    )
    p.add_argument(
        "--db-password-file",
        metavar="FILE",
        help="read the password from FILE (trailing newline removed): it stays out of `ps`",
    )


DATABASE_HELP = "the backed-up database: `--backup latest` picks its newest backup"


def add_backup_choice(p: argparse.ArgumentParser) -> None:
    """Which backup a read-only command looks at: an id or latest, of which database and source."""
    p.add_argument(
        "--backup", required=True, metavar="ID|latest", help="backup id (or 4+ first characters) or latest"
    )
    p.add_argument("--database", metavar="NAME", help=DATABASE_HELP)
    add_source_flag(p)


def add_source_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", metavar="NAME", help="the server's name in the store (default: any)")


def add_part_flags(p: argparse.ArgumentParser, verb: str, excluded_too: str = "") -> None:
    p.add_argument(
        "--exclude-table",
        action="append",
        metavar="NAME",
        help=f"{verb} every table but this one (repeatable){excluded_too}",
    )
    p.add_argument("--schema-only", action="store_true", help=f"{verb} the definitions, no rows")


def add_json_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON (see README: JSON output)")


def examples(*lines: str) -> str:
    return "examples:\n" + "\n".join("  " + line for line in lines)


EXIT_CODES = (
    "exit codes: 0 done, 1 the operation failed, 2 bad usage, 130 interrupted (Ctrl-C),"
    " 141 the output's reader went away"
)


def command_parser(sub: _SubParsers, name: str, help: str, *example_lines: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".\n\n" + EXIT_CODES,
        epilog=examples(*example_lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def backup_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "backup",
        "back up one or more databases",
        "cloudbackup backup --db-url mysql://backup@db1/shop --data /var/backups",
        "cloudbackup backup --db-url mysql://backup@db1 --all-databases \\",
        "    --backup-bucket s3://acme-backups/mysql --backup-region eu-west-1",
    )
    add_db_flags(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--database", action="append", metavar="NAME", help="database to back up (repeatable)")
    which.add_argument("--all-databases", action="store_true", help="every non-system database")
    p.add_argument(
        "--compression", choices=["zstd", "gzip", "none"], default="zstd", help="data object compression"
    )
    p.add_argument(
        "--source",
        metavar="NAME",
        help="name of this server in the store (default: its host, HOST-PORT off port 3306)",
    )
    p.add_argument(
        "--jobs", type=int, metavar="N", help="connections reading a big table at once (default 4)"
    )
    add_part_flags(p, "back up", "; the views reading it are left out too, and listed")
    add_json_flag(p, "the new backups")
    add_storage_flags(p, writes=True)


def list_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "list",
        "list complete backups, newest first",
        "cloudbackup list --data /var/backups",
        "cloudbackup list --database shop --store s3 --json",
    )
    p.add_argument("--database", metavar="NAME", help="only backups of this database")
    add_source_flag(p)
    add_json_flag(p, "a JSON array")
    add_storage_flags(p, choose=True)


def restore_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "restore",
        "restore a backup or a plain dump file",
        "cloudbackup restore --db-url mysql://root@db1 --backup latest --database shop \\",
        "    --target-database shop_copy",
        "cloudbackup restore --db-url mysql://root@db1 --backup 3fa2 --in-place --dry-run",
        "cloudbackup restore --db-url mysql://root@db1/copy --backup shop.sql.gz",
    )
    add_db_flags(p)
    p.add_argument(
        "--backup",
        metavar="ID|latest|FILE",
        help="backup id (or 4+ first characters), latest, or a dump file (or give --to-time)",
    )
    p.add_argument("--database", metavar="NAME", help=DATABASE_HELP)
    p.add_argument(
        "--to-time",
        metavar="TIME",
        help="ISO 8601 (Z or an offset): the newest backup before TIME plus its archived binlog up to TIME",
    )
    add_source_flag(p)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-database", metavar="NEW", help="restore into this new database")
    target.add_argument(
        "--in-place",
        action="store_true",
        help="replace the database atomically, keeping its tables in NAME_before_TIME (asks first)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="verify the backup, say what would change, change nothing"
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="do not ask before --in-place (needed when stdin is not a terminal)",
    )
    p.add_argument("--table", action="append", metavar="NAME", help="restore only this table (repeatable)")
    add_part_flags(p, "restore")
    p.add_argument(
        "--definer",
        choices=["keep", "current"],
        default="keep",
        help="keep the views' and routines' DEFINER, or set it to the restoring user",
    )
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="tables loaded in parallel (default 2)")
    add_json_flag(p, "the summary")
    add_storage_flags(p, choose=True)


def verify_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "verify",
        "check a backup against its manifest",
        "cloudbackup verify --backup latest --database shop",
        "cloudbackup verify --backup 3fa2c1 --store s3 --json",
    )
    add_backup_choice(p)
    add_json_flag(p, "the result")
    add_storage_flags(p, choose=True)


def show_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "show",
        "show one backup: tables, rows, sizes, server, snapshot position, timings, where it is",
        "cloudbackup show --backup latest --database shop",
        "cloudbackup show --backup 3fa2 --json",
    )
    add_backup_choice(p)
    add_json_flag(p, "the backup's details")
    add_storage_flags(p, choose=True)


def prune_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "prune",
        "delete old backups by count and age in one store (the bucket if given, else --data)",
        "cloudbackup prune --keep-last 7 --keep-days 30 --dry-run",
        "cloudbackup prune --keep-last 3 --database shop --json",
    )
    p.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N backups of each database")
    p.add_argument("--keep-days", type=int, metavar="D", help="keep backups younger than D days")
    p.add_argument("--database", metavar="NAME", help="only backups of this database")
    add_source_flag(p)
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    add_json_flag(p, "what was (or would be) deleted and kept")
    add_storage_flags(p)


def binlog_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "binlog",
        "archive the binary log for point-in-time restores",
        "cloudbackup binlog archive --db-url mysql://repl@db1 --follow",
        "cloudbackup binlog status --json",
    )
    binlog = p.add_subparsers(dest="binlog_command", required=True, parser_class=OneLineParser)
    b = command_parser(
        binlog,
        "archive",
        "store the events not archived yet, up to the server's end",
        "cloudbackup binlog archive --db-url mysql://repl@db1",
        "cloudbackup binlog archive --db-url mysql://repl@db1 --follow \\",
        "    --backup-bucket s3://acme/mysql --backup-region eu-west-1",
    )
    add_db_flags(b)
    b.add_argument(
        "--source",
        metavar="NAME",
        help="name of this server in the store (default: its host, HOST-PORT off port 3306)",
    )
    b.add_argument("--follow", action="store_true", help="keep streaming new events until stopped")
    add_json_flag(b, "the result")
    add_storage_flags(b, writes=True)
    b = command_parser(
        binlog,
        "status",
        "the recoverable window per source and database",
        "cloudbackup binlog status",
        "cloudbackup binlog status --json",
    )
    add_json_flag(b, "a JSON array")
    add_storage_flags(b)


def drill_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "drill",
        "restore a backup into a scratch database, prove it, drop it",
        "cloudbackup drill --db-url mysql://root@drill-server --database shop",
        "cloudbackup drill --db-url mysql://root@drill-server --database shop --backup 3fa2 --json",
    )
    add_db_flags(p)
    p.add_argument("--database", required=True, metavar="NAME", help="the backed-up database")
    p.add_argument(
        "--backup",
        default="latest",
        metavar="ID|latest",
        help="backup id (or 4+ first characters); default: latest",
    )
    add_source_flag(p)
    add_json_flag(p, "the result")
    add_storage_flags(p, choose=True)


def credentials_parser(sub: _SubParsers) -> None:
    p = command_parser(
        sub,
        "credentials",
        "write the stack's IAM user key as a credentials file",
        "cloudbackup credentials --stack CloudBackup --out ~/.cloudbackup/credentials",
    )
    p.add_argument("--stack", required=True, metavar="STACK", help="the deployed CloudFormation stack's name")
    p.add_argument("--out", required=True, metavar="FILE", help="credentials file to write (mode 0600)")
    p.add_argument("--region", metavar="REGION", help="the stack's region (default: the AWS chain's)")
    p.add_argument("--endpoint", metavar="URL", help="AWS-compatible endpoint (tests)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


# One function per subcommand: each adds its own parser (and its examples).
PARSERS = [
    backup_parser,
    list_parser,
    restore_parser,
    verify_parser,
    show_parser,
    prune_parser,
    binlog_parser,
    drill_parser,
    credentials_parser,
]


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="cloudbackup",
        description="MySQL/MariaDB backups that live in S3.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version="cloudbackup " + _version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add in PARSERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given and given[0].startswith("-") and given[0] not in ("-h", "--help", "--version"):
        # argparse would call the flag's value an invalid command
        print(
            one_line(
                f"cloudbackup: error: {given[0]} comes before the command; flags go after it "
                f"(cloudbackup COMMAND {given[0]} …; see cloudbackup --help)"
            ),
            file=sys.stderr,
        )
        return 2
    args = build_parser().parse_args(given)
    empty = empty_name_flag(args)
    if empty:
        print(f"cloudbackup: {empty} is empty (an unset variable?): give its value", file=sys.stderr)
        return 2
    # Ctrl-C says so at once (cleaning up an upload or a staging database can take a moment); a stop
    # from cron, systemd or a container runtime cleans up the same way. Exit code 130 either way.
    interrupt_on_signals(_say_stopping, _say_going_on)
    debug = bool(os.environ.get("CLOUDBACKUP_DEBUG"))
    said = logging.StreamHandler()
    said.setFormatter(LowerCaseLevel("cloudbackup: %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[said])
    output = sys.stdout
    sys.stdout = stdout.GuardedOutput(output)
    try:
        module = importlib.import_module(COMMANDS[args.command])
        code: int = module.run(args)
        sys.stdout.flush()  # a write error shows here, not in Python's exit
        return code
    except stdout.OutputFailed as exc:
        return exc.exit_status(output)
    except CloudBackupError as exc:
        print(f"cloudbackup: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cloudbackup: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"cloudbackup: internal error: {type(exc).__name__}: {one_line(str(exc))} "
            "(set CLOUDBACKUP_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
    finally:
        cancel_pending_interrupt()
        sys.stdout = output


# Flags naming a database, table, source or backup. Given empty (`--database "$DB"`, the variable
# unset) they matched nothing and said so as if the store were empty, or fell back to the default
# (--source): a prune, list or restore of something other than what the script names.
_NAME_FLAGS = {
    "database": "--database",
    "source": "--source",
    "table": "--table",
    "exclude_table": "--exclude-table",
    "target_database": "--target-database",
    "backup": "--backup",
}


def empty_name_flag(args: argparse.Namespace) -> str | None:
    """The first name flag given an empty (or blank) value, else None. No server allows a blank name."""
    for dest, flag in _NAME_FLAGS.items():
        value = getattr(args, dest, None)
        for one in value if isinstance(value, list) else [value]:
            if one is not None and not one.strip():
                return flag
    return None


def _say_stopping() -> None:
    # os.write: async-signal-safe, and never interleaved inside a buffered progress line's write.
    os.write(sys.stderr.fileno(), "\ncloudbackup: stopping…\n".encode())


def _say_going_on(why: str) -> None:
    os.write(sys.stderr.fileno(), ("\n" + one_line(f"cloudbackup: not stopping: {why}") + "\n").encode())


def _version() -> str:
    from cloudbackup import __version__

    return __version__


def run() -> NoReturn:
    """The `cloudbackup` command (and `python -m cloudbackup.cli.main`)."""
    leave(main())


def leave(code: int) -> NoReturn:
    """Exit with `code` without tearing the interpreter down.

    Python's own exit frees every module's objects and runs a last garbage collection: 40-70 ms after
    a restore or a backup on the 2-vCPU benchmark VM, paid after the work is done, by every command
    a script runs. Skipped only when nothing can be lost by it: the exit handlers (logging's flush,
    pending temporary-file finalizers) run first and the output is flushed; while another thread still
    runs, or a flush fails, Python exits the usual way (it waits for that thread, reports that error).
    """
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        else:
            os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
