"""Entry point: parse the command line (see DESIGN.md), run one command, map failures to exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from cloudbackup.errors import CloudBackupError

# Each subcommand's implementation lives in its own module, imported only when it runs.
COMMANDS = {
    "backup": "cloudbackup.cli.cmd_backup",
    "list": "cloudbackup.cli.cmd_list",
    "restore": "cloudbackup.cli.cmd_restore",
    "verify": "cloudbackup.cli.cmd_verify",
    "prune": "cloudbackup.cli.cmd_prune",
    "drill": "cloudbackup.cli.cmd_drill",
    "credentials": "cloudbackup.cli.cmd_credentials",
    "binlog": "cloudbackup.cli.cmd_binlog",
}


class OneLineParser(argparse.ArgumentParser):
    """Usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_storage_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("storage")
    g.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="local backup directory (default: ~/.cloudbackup, or $CLOUDBACKUP_DATA)",
    )
    g.add_argument("--backup-bucket", metavar="s3://BUCKET[/PREFIX]", help="keep backups in this S3 bucket")
    g.add_argument(
        "--backup-region", metavar="REGION", help="the bucket's AWS region (required with a bucket)"
    )
    g.add_argument(
        "--backup-credential", metavar="FILE", help="AWS shared credentials file (default: the AWS chain)"
    )
    g.add_argument("--backup-profile", metavar="NAME", default=None, help="profile in --backup-credential")
    g.add_argument(
        "--backup-endpoint", metavar="URL", help="S3-compatible endpoint (MinIO, a local emulator)"
    )
    g.add_argument(
        "--kms-key-id", metavar="KEY", help="SSE-KMS key for new objects (default: bucket default)"
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


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="cloudbackup", description="MySQL/MariaDB backups that live in S3.")
    parser.add_argument("--version", action="version", version="cloudbackup " + _version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    p = sub.add_parser("backup", help="back up one or more databases")
    add_db_flags(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--database", action="append", metavar="NAME", help="database to back up (repeatable)")
    which.add_argument("--all-databases", action="store_true", help="every non-system database")
    p.add_argument("--compression", choices=["zstd", "gzip", "none"], default="zstd")
    p.add_argument("--source", metavar="NAME", help="name of this server in the store (default: its host)")
    p.add_argument(
        "--jobs", type=int, metavar="N", help="connections reading a big table at once (default 4)"
    )
    p.add_argument("--json", action="store_true", help="print the new backups as JSON")
    add_storage_flags(p)

    p = sub.add_parser("list", help="list complete backups, newest first")
    p.add_argument("--database", metavar="NAME")
    p.add_argument("--source", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    add_storage_flags(p)

    p = sub.add_parser("restore", help="restore a backup or a plain dump file")
    add_db_flags(p)
    p.add_argument("--backup", metavar="ID|latest|FILE", help="what to restore (or --to-time)")
    p.add_argument("--database", metavar="NAME", help="the backed-up database (picks `latest`)")
    p.add_argument(
        "--to-time",
        metavar="TIME",
        help="ISO 8601 (Z or an offset): the newest backup before TIME plus its archived binlog up to TIME",
    )
    p.add_argument("--source", metavar="NAME")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-database", metavar="NEW", help="restore into this new database")
    target.add_argument("--in-place", action="store_true", help="replace the database atomically")
    p.add_argument("--table", action="append", metavar="NAME", help="restore only this table (repeatable)")
    p.add_argument("--definer", choices=["keep", "current"], default="keep")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="tables loaded in parallel (default 2)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_storage_flags(p)

    p = sub.add_parser("verify", help="check a backup against its manifest")
    p.add_argument("--backup", required=True, metavar="ID|latest")
    p.add_argument("--database", metavar="NAME")
    p.add_argument("--source", metavar="NAME")
    p.add_argument("--json", action="store_true")
    add_storage_flags(p)

    p = sub.add_parser(
        "prune", help="delete old backups by count and age in one store (the bucket if given, else --data)"
    )
    p.add_argument("--keep-last", type=int, metavar="N")
    p.add_argument("--keep-days", type=int, metavar="D")
    p.add_argument("--database", metavar="NAME")
    p.add_argument("--source", metavar="NAME")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")
    add_storage_flags(p)

    p = sub.add_parser("binlog", help="archive the binary log for point-in-time restores")
    binlog = p.add_subparsers(dest="binlog_command", required=True, parser_class=OneLineParser)
    b = binlog.add_parser("archive", help="store the events not archived yet, up to the server's end")
    add_db_flags(b)
    b.add_argument("--source", metavar="NAME", help="name of this server in the store (default: its host)")
    b.add_argument("--follow", action="store_true", help="keep streaming new events until stopped")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    add_storage_flags(b)
    b = binlog.add_parser("status", help="the recoverable window per source and database")
    b.add_argument("--json", action="store_true", help="print a JSON array")
    add_storage_flags(b)

    p = sub.add_parser("drill", help="restore a backup into a scratch database, prove it, drop it")
    add_db_flags(p)
    p.add_argument("--database", required=True, metavar="NAME", help="the backed-up database")
    p.add_argument("--backup", default="latest", metavar="ID|latest", help="default: latest")
    p.add_argument("--source", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_storage_flags(p)

    p = sub.add_parser("credentials", help="write the stack's IAM user key as a credentials file")
    p.add_argument("--stack", required=True, metavar="STACK")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--region", metavar="REGION", help="the stack's region (default: the AWS chain's)")
    p.add_argument("--endpoint", metavar="URL", help="AWS-compatible endpoint (tests)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A stop from cron, systemd or a container runtime cleans up like Ctrl-C (aborted uploads, no staging).
    signal.signal(signal.SIGTERM, _interrupt)
    debug = bool(os.environ.get("CLOUDBACKUP_DEBUG"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="cloudbackup: %(levelname)s: %(message)s"
    )
    try:
        module = importlib.import_module(COMMANDS[args.command])
        code: int = module.run(args)
        return code
    except CloudBackupError as exc:
        print(f"cloudbackup: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cloudbackup: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"cloudbackup: internal error: {type(exc).__name__}: {exc} (set CLOUDBACKUP_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def _version() -> str:
    from cloudbackup import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
