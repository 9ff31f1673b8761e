"""The Lambda asset: arm64 CPython 3.12 wheels + the engine and handler sources, built without Docker."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from infra.bundling import FUNCTIONS_DIR, LAMBDA_PLATFORM, Platform, asset_hash, build_lambda_asset
from infra.functions import ARCHITECTURE, RUNTIME

pytestmark = pytest.mark.infra


def compiled(asset: Path, package: str) -> list[str]:
    return [p.name for p in (asset / package).glob("*.so")]


def test_asset_holds_the_sources_and_arm64_wheels_for_the_runtime() -> None:
    asset = build_lambda_asset()
    for module in (
        "handlers/backup.py",
        "handlers/restore.py",
        "cloudbackup/__init__.py",
        "cloudbackup/storage/s3.py",
    ):
        assert (asset / module).read_bytes() == (FUNCTIONS_DIR / module).read_bytes()
    assert not list(asset.rglob("__pycache__"))
    for package in ("zstandard", "pydantic_core"):
        names = compiled(asset, package)
        assert names, package
        assert all("cpython-312-aarch64-linux-gnu" in n for n in names), names
    assert (asset / "aws_lambda_powertools").is_dir()
    assert RUNTIME.name == f"python{LAMBDA_PLATFORM.python_version}"
    assert ARCHITECTURE.name == "arm64"


def test_same_inputs_same_asset_other_platform_other_asset() -> None:
    assert build_lambda_asset() == build_lambda_asset()
    assert asset_hash(LAMBDA_PLATFORM) == asset_hash(LAMBDA_PLATFORM)
    assert asset_hash(LAMBDA_PLATFORM) != asset_hash(Platform.local())


def test_local_platform_asset_has_this_machines_wheels() -> None:
    # The same function builds an importable asset for tests on this machine (x86_64 here).
    asset = build_lambda_asset(platform=Platform.local())
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}-{platform.machine()}-linux-gnu"
    assert all(tag in n for n in compiled(asset, "zstandard"))
    assert (asset / "handlers" / "backup.py").exists()
