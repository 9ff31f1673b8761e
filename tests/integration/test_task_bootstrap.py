"""The Fargate task for real on this machine: the bootstrap in an interpreter that has only boto3 and the
standard library (as the public base image has), fetching the built asset from the local S3 endpoint,
then backing up a database on the real server to that endpoint and restoring it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from handlers import constants as c
from tests.fixtures.fargate_task import FargateTask
from tests.fixtures.lambda_runtime import SOURCE, Deployment, fill_table, table_fingerprint
from tests.fixtures.mariadb import admin_connect

pytestmark = [pytest.mark.integration]


@pytest.fixture
def run_task(fargate_task: FargateTask) -> Callable[..., subprocess.CompletedProcess[str]]:
    return fargate_task.run


def test_the_task_backs_up_and_restores_from_the_fetched_asset(
    run_task: Callable[..., subprocess.CompletedProcess[str]],
    deployment: Deployment,
    make_database: Callable[[str], str],
    db_settings: DbSettings,
) -> None:
    # Given a database on the server
    name = make_database("task")
    fill_table(db_settings, name, "orders", 3000)
    # When the backup task runs with the scheduled event
    backup = run_task({"source": SOURCE, "databases": [name]})
    # Then it exits 0, the backup is complete in the bucket, and its result event was published
    assert backup.returncode == 0, backup.stderr[-3000:]
    [entry] = list_backups([deployment.store()], database=name, source=SOURCE)
    deployment.assert_intact(entry)
    [result] = [json.loads(line) for line in backup.stdout.splitlines() if line.startswith('{"source"')]
    assert result["databases"][0]["status"] == "succeeded"
    assert result["databases"][0]["backup_id"] == entry.id
    [event] = deployment.received_events(1)
    assert (event["detail-type"], event["detail"]["database"]) == ("Backup Succeeded", name)
    # When the restore task runs into a new database
    target = f"{name}_copy"
    restore = run_task({"source": SOURCE, "database": name, "backup": "latest", "target_database": target})
    # Then every row is back
    assert restore.returncode == 0, restore.stderr[-3000:]
    original = table_fingerprint(db_settings, name)
    assert table_fingerprint(db_settings, target) == original
    assert original[0] == 3000


def test_the_restore_task_runs_a_drill(
    run_task: Callable[..., subprocess.CompletedProcess[str]],
    deployment: Deployment,
    make_database: Callable[[str], str],
    db_settings: DbSettings,
) -> None:
    # Given a backup the task made, of a source whose drills are on
    name = make_database("task")
    fill_table(db_settings, name, "orders", 500)
    assert run_task({"source": SOURCE, "databases": [name]}).returncode == 0
    sources = json.loads(deployment.environment()[c.ENV_SOURCES])
    sources[SOURCE]["drill"] = True
    # When the restore task runs with the drill event
    drill = run_task(
        {"source": SOURCE, "database": name, "drill": True}, **{c.ENV_SOURCES: json.dumps(sources)}
    )
    # Then the drill proved the backup, reported it, and left no scratch database behind
    assert drill.returncode == 0, drill.stderr[-3000:]
    [result] = [json.loads(line) for line in drill.stdout.splitlines() if line.startswith('{"source"')]
    assert (result["verified"], result["rows"], result["tables"]) == (True, 500, 1)
    events = deployment.received_events(2)
    assert [e["detail-type"] for e in events] == ["Backup Succeeded", c.EVENT_DRILL_SUCCEEDED]
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s", (name + "\\_\\_%",)
        )
        assert cur.fetchone()[0] == 0


def test_a_damaged_asset_is_refused_before_anything_runs(
    run_task: Callable[..., subprocess.CompletedProcess[str]],
    task_archive: tuple[Path, str],
    deployment: Deployment,
    make_database: Callable[[str], str],
    db_settings: DbSettings,
    tmp_path: Path,
) -> None:
    # Given the asset with one byte changed, in the place the task reads it from
    archive, sha256 = task_archive
    damaged = bytearray(archive.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    deployment.aws("s3").put_object(
        Bucket=f"cdk-assets-{deployment.bucket}"[:63], Key="bad.zip", Body=bytes(damaged)
    )
    name = make_database("task")
    fill_table(db_settings, name, "orders", 10)
    # When the backup task starts with the deployed hash
    proc = run_task({"source": SOURCE, "databases": [name]}, key="bad.zip", sha=sha256)
    # Then it exits 1 with one line naming the mismatch, and nothing was unpacked or backed up
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "bad.zip" in line
    assert sha256 in line
    assert "refusing to run it" in line
    assert proc.stdout == ""
    assert list_backups([deployment.store()], database=name, source=SOURCE) == []
    assert not list(tmp_path.glob("cloudbackup-*/asset"))


def test_a_task_without_an_event_says_so(run_task: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    proc = run_task("not an object")  # type: ignore[arg-type]
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"cloudbackup task: {c.ENV_TASK_EVENT} must hold the event as a JSON object"


# An entry point that imports boto3 as the handlers do and names every module not of the standard library
# that came from outside the unpacked asset.
LIBRARY_PROBE = """
import json, os, sys
import boto3
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
outside = sorted(
    f"{name}: {module.__file__}"
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and name.split(".")[0] not in sys.stdlib_module_names
    and not os.path.abspath(module.__file__).startswith(root + os.sep)
)
print(json.dumps({"outside": outside, "boto3": boto3.__file__}))
"""
BOTO3_AND_ITS_NEEDS = ("boto3/", "botocore/", "s3transfer/", "urllib3/", "dateutil/", "jmespath/", "six.py")


def test_the_task_runs_on_the_assets_libraries_not_the_images(
    run_task: Callable[..., subprocess.CompletedProcess[str]],
    task_archive: tuple[Path, str],
    deployment: Deployment,
    tmp_path: Path,
) -> None:
    # Given an asset with boto3 and what it needs, whose entry point reports where its modules come from
    archive, _ = task_archive
    probe = tmp_path / "probe.zip"
    with zipfile.ZipFile(archive) as real, zipfile.ZipFile(probe, "w", zipfile.ZIP_DEFLATED) as out:
        for info in real.infolist():
            if info.filename.startswith(BOTO3_AND_ITS_NEEDS):
                out.writestr(info, real.read(info))
        out.writestr("handlers/__init__.py", "")
        out.writestr("handlers/task.py", LIBRARY_PROBE)
    deployment.aws("s3").upload_file(str(probe), f"cdk-assets-{deployment.bucket}"[:63], "probe.zip")
    # When the bootstrap (which itself fetched it with the image's boto3) runs it
    proc = run_task({}, key="probe.zip", sha=hashlib.sha256(probe.read_bytes()).hexdigest())
    # Then boto3 and every library it loads are the asset's: none of the image's is left in use
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert "/cloudbackup-" in report["boto3"]
    assert report["outside"] == []
