"""The Lambda asset: arm64 CPython 3.12 wheels + the engine and handler sources, built without Docker."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bundling import (
    BYTECODE_PYTHON_ENV,
    FUNCTIONS_DIR,
    LAMBDA_PLATFORM,
    Platform,
    asset_hash,
    build_lambda_asset,
    bytecode_python,
)
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
    # Bytecode only of the runtime's version (its magic number), where this machine has that Python
    caches = {p.name.split(".")[-2] for p in asset.rglob("__pycache__/*.pyc")}
    assert caches <= {f"cpython-{LAMBDA_PLATFORM.python_version.replace('.', '')}"}
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


def test_the_asset_is_compiled_by_the_runtimes_python_as_unchecked_hash_bytecode() -> None:
    # Given a CPython of the runtime's version on this machine (pyenv's 3.12 here)
    python = bytecode_python(LAMBDA_PLATFORM.python_version)
    if python is None:
        pytest.skip(f"no CPython {LAMBDA_PLATFORM.python_version} here (the next test covers that case)")
    # When the asset is built
    asset = build_lambda_asset()
    # Then each handler module has bytecode with that Python's magic number, hash-based and unchecked:
    # used whatever timestamps the asset's zip gives the sources
    magic = subprocess.run(
        [python, "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tag = f"cpython-{LAMBDA_PLATFORM.python_version.replace('.', '')}"
    for module in ("handlers/backup", "handlers/restore", "cloudbackup/restore"):
        package, name = module.rsplit("/", 1)
        header = (asset / package / "__pycache__" / f"{name}.{tag}.pyc").read_bytes()[:8]
        assert header[:4].hex() == magic
        assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked
    assert (asset / "pydantic" / "__pycache__").is_dir()  # the dependencies too


def test_without_the_runtimes_python_the_asset_is_bundled_without_bytecode_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a machine without a CPython of the runtime's version
    monkeypatch.setenv(BYTECODE_PYTHON_ENV, "none")
    # When the asset is built
    asset = build_lambda_asset()
    # Then it holds no bytecode, under another hash than a compiled one, and the build said why
    assert not list(asset.rglob("__pycache__"))
    assert asset.name.endswith(asset_hash(LAMBDA_PLATFORM))
    assert asset_hash(LAMBDA_PLATFORM) != asset_hash(LAMBDA_PLATFORM, compiled=True)
    assert f"no CPython {LAMBDA_PLATFORM.python_version} on this machine" in capsys.readouterr().err
