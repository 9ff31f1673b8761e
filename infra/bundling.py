"""The Lambda asset, built without Docker: wheels for the target platform + the engine and handler sources.

`pip install --platform ... --only-binary=:all: --target DIR -r requirements.txt` fetches the wheels
the Lambda runtime needs (arm64, CPython 3.12) on any machine, then the two source packages are copied
beside them. Both steps are cached: the installed dependencies under a hash of requirements.txt and the
platform (pip runs only when they change), the asset under a hash that adds every source file (its
dependencies are hard links into the first cache, so a source change costs a copy, not a download).

Bytecode: Lambda cannot write it (`/var/task` is read-only), so an asset without it compiles every module
at each cold start (about 0.5 s of it). Bytecode is made per Python version (its magic number), so the
asset is compiled by an interpreter of the runtime's version, found on this machine (this one, then
`python3.12` on PATH, then pyenv's), as `unchecked-hash` .pyc files: those are used whatever the
timestamps of the asset's zip say, and the asset is never edited in place (a source change makes a new
asset). Where no such interpreter is installed, the asset is bundled without bytecode, as before, and
the build says so on stderr; the asset's hash tells the two apart.

The default platform is the deployed one. The asset's compiled wheels (zstandard, pydantic_core) for
aarch64 do not import on an x86_64 test machine, so tests that import the handlers from an asset build
the same asset for the local platform with `build_lambda_asset(out_dir, platform=Platform.local())`:
the same function, the same sources and requirements, only other wheels.
"""

from __future__ import annotations

import hashlib
import os
import platform as host
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO / "functions"
REQUIREMENTS = REPO / "requirements.txt"
SOURCE_PACKAGES = ("cloudbackup", "handlers")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache")
CACHE_ENV = "CLOUDBACKUP_ASSET_CACHE"
# A CPython of the runtime's version to compile the asset with ("none": bundle without bytecode).
BYTECODE_PYTHON_ENV = "CLOUDBACKUP_BYTECODE_PYTHON"
KEEP_ASSETS = 3


@dataclass(frozen=True)
class Platform:
    """What pip downloads wheels for: manylinux tags (newest glibc first), CPython version, architecture."""

    tags: tuple[str, ...]
    python_version: str

    @classmethod
    def lambda_arm64(cls, python_version: str = "3.12") -> Platform:
        # Lambda's Python 3.12 runtime (Amazon Linux 2023, glibc 2.34) on Graviton.
        return cls(("manylinux_2_28_aarch64", "manylinux2014_aarch64"), python_version)

    @classmethod
    def local(cls) -> Platform:
        """This machine (Linux), so tests can import the asset's compiled wheels."""
        machine = host.machine()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return cls((f"manylinux_2_28_{machine}", f"manylinux2014_{machine}"), version)

    def key(self) -> str:
        return f"cp{self.python_version.replace('.', '')}-{self.tags[-1]}"


LAMBDA_PLATFORM = Platform.lambda_arm64()


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cloudbackup" / "lambda-assets"


def _source_files() -> list[Path]:
    files = []
    for package in SOURCE_PACKAGES:
        root = FUNCTIONS_DIR / package
        files += [
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return sorted(files)


def bytecode_python(python_version: str) -> str | None:
    """A CPython interpreter of `python_version` ("3.12") on this machine, or None."""
    configured = os.environ.get(BYTECODE_PYTHON_ENV)
    if configured:
        candidates = [] if configured == "none" else [configured]
    else:
        home = Path(os.path.expanduser("~"))
        candidates = [
            sys.executable,
            *filter(None, [shutil.which(f"python{python_version}")]),
            *map(
                str,
                sorted((home / ".pyenv" / "versions").glob(f"{python_version}.*/bin/python{python_version}")),
            ),
        ]
    wanted = f"cpython-{python_version.replace('.', '')}"
    for candidate in candidates:
        try:
            tag = subprocess.run(
                [candidate, "-c", "import sys; print(sys.implementation.cache_tag)"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if tag == wanted:
            return candidate
    return None


def _say_uncompiled(python_version: str) -> None:
    print(
        f"cloudbackup: no CPython {python_version} on this machine: the Lambda asset is bundled without "
        f"bytecode (each cold start compiles it, about 0.5 s); install python{python_version} or set "
        f"{BYTECODE_PYTHON_ENV} to compile it",
        file=sys.stderr,
    )


def _compile(staging: Path, python: str | None) -> None:
    if python is None:
        return
    cmd = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(staging)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"compiling the Lambda asset failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}"
        )


def asset_hash(
    platform: Platform = LAMBDA_PLATFORM,
    extra_files: Mapping[str, Path] | None = None,
    *,
    compiled: bool = False,
) -> str:
    """Changes whenever anything that goes into the asset changes (its bytecode too)."""
    digest = hashlib.sha256()
    digest.update(platform.key().encode())
    if compiled:
        digest.update(b"bytecode unchecked-hash\0")
    digest.update(REQUIREMENTS.read_bytes())
    for path in _source_files():
        digest.update(str(path.relative_to(FUNCTIONS_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    for name, path in sorted((extra_files or {}).items()):
        digest.update(b"extra\0" + name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _pip_install(target: Path, platform: Platform) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    for tag in platform.tags:
        cmd += ["--platform", tag]
    cmd += [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        platform.python_version,
        "--target",
        str(target),
        "-r",
        str(REQUIREMENTS),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"bundling the Lambda dependencies failed: {' '.join(cmd)}\n{result.stderr.strip()}"
        )


def _dependencies(root: Path, platform: Platform) -> Path:
    key = hashlib.sha256(platform.key().encode() + REQUIREMENTS.read_bytes()).hexdigest()[:24]
    return _build_once(root / f"deps-{platform.key()}-{key}", lambda staging: _pip_install(staging, platform))


def _populate(staging: Path, dependencies: Path, extra_files: Mapping[str, Path]) -> None:
    shutil.copytree(dependencies, staging, dirs_exist_ok=True, copy_function=_link_or_copy)
    for package in SOURCE_PACKAGES:
        source = FUNCTIONS_DIR / package
        if not source.is_dir():
            raise RuntimeError(f"bundling the Lambda asset: {source} is missing")
        shutil.copytree(source, staging / package, ignore=_SKIP)
    for name, path in extra_files.items():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def build_lambda_asset(
    out_dir: Path | None = None,
    *,
    platform: Platform = LAMBDA_PLATFORM,
    extra_files: Mapping[str, Path] | None = None,
) -> Path:
    """Return the asset directory for `platform`, building it once per content hash.

    `out_dir` is the cache root (default: $CLOUDBACKUP_ASSET_CACHE or ~/.cache/cloudbackup/lambda-assets).
    `extra_files` (path in the asset -> file) adds data files, e.g. the sources' CA certificates.
    The build goes to a staging directory renamed into place, so a failed or concurrent build never
    leaves a half-filled asset behind.
    """
    root = Path(out_dir) if out_dir is not None else default_cache_dir()
    extra = dict(extra_files or {})
    python = bytecode_python(platform.python_version)
    if python is None:  # (every synth says so, the cached asset's too)
        _say_uncompiled(platform.python_version)
    final = root / f"{platform.key()}-{asset_hash(platform, extra, compiled=python is not None)}"
    if final.is_dir():
        return final
    dependencies = _dependencies(root, platform)

    def build(staging: Path) -> None:
        _populate(staging, dependencies, extra)
        _compile(staging, python)

    _build_once(final, build)
    _prune(root, f"{platform.key()}-", keep=final)
    return final


def _build_once(final: Path, build: Callable[[Path], None]) -> Path:
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        build(staging)
        try:
            staging.rename(final)
        except OSError:
            if not final.is_dir():  # another build won the race: theirs is identical
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _prune(root: Path, prefix: str, *, keep: Path, spare: int = KEEP_ASSETS) -> None:
    """Drop all but the newest few assets of a platform: each source change makes a new one."""
    older = sorted(
        (p for p in root.glob(prefix + "*") if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in older[spare - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)
        stale.with_name(stale.name + ".zip").unlink(missing_ok=True)  # its task archive, if one was made


def build_task_archive(asset: Path) -> tuple[Path, str]:
    """The asset as one zip for the Fargate task's bootstrap, and its SHA-256 (which the task checks).

    Built once beside the asset directory; entries sorted with fixed timestamps, so the same asset always
    makes the same bytes and the same hash (the stack only changes when the asset does).
    """
    archive = asset.with_name(asset.name + ".zip")
    if not archive.is_file():
        _build_file_once(archive, lambda staging: _zip_tree(asset, staging))
    digest = hashlib.sha256()
    with open(archive, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return archive, digest.hexdigest()


def _zip_tree(root: Path, out: Path) -> None:
    import zipfile

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _build_file_once(final: Path, build: Callable[[Path], None]) -> None:
    handle, name = tempfile.mkstemp(prefix=".build-", suffix=".zip", dir=final.parent)
    os.close(handle)
    staging = Path(name)
    try:
        build(staging)
        staging.replace(final)  # atomic: a reader sees the whole archive or none
    finally:
        staging.unlink(missing_ok=True)
