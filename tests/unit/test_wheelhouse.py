"""The wheelhouse builder: what its hashes follow, the pip platform it asks for, and its one-line errors.

The offline case is real: pip gets no index and no config, so it can only use what the cache holds. The
project's wheel still builds (its build backend is cached), and the dependencies, which the cache lacks for
the new platform, fail with the name of the first one pip could not find; nothing half-built is left.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from cdk_data_tier.constructs.wheelhouse import (
    Platform,
    WheelhouseError,
    build_wheelhouse,
    source_hash,
    wheel_content_hash,
)
from cdk_data_tier.stacks.app_release import EXTRA, PROJECT_DIR


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "pkg" / "mod.py").write_text("A = 1\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_mod.py").write_text("def test(): pass\n")
    (root / "link").symlink_to("pkg")
    return root


def test_the_source_hash_follows_the_code_only(tmp_path: Path) -> None:
    root = _tree(tmp_path / "p")
    first = source_hash(root)
    (root / "tests" / "test_mod.py").write_text("def test(): assert 0\n")
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (root / ".wheelhouse").mkdir()
    (root / "cdk.out.dev").mkdir()
    assert source_hash(root) == first  # tests, bytecode, caches and assemblies are not the wheel's
    (root / "pkg" / "mod.py").write_text("A = 2\n")
    assert source_hash(root) != first
    (root / "pkg" / "mod.py").write_text("A = 1\n")
    assert source_hash(root) == first
    (root / "link").unlink()
    (root / "link").symlink_to("tests")
    assert source_hash(root) != first  # a link counts as where it points, not as a second copy


def _wheel(path: Path, files: dict[str, str], when: tuple[int, ...]) -> Path:
    record = "".join(f"{name},sha256={hash(body)},{len(body)}\n" for name, body in files.items())
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in {**files, "x-1.dist-info/RECORD": record + "x-1.dist-info/RECORD,,\n"}.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), body)  # type: ignore[arg-type]
    return path


def test_the_content_hash_ignores_when_the_wheel_was_zipped(tmp_path: Path) -> None:
    files = {"x/__init__.py": "A = 1\n", "x-1.dist-info/METADATA": "Name: x\n"}
    a = _wheel(tmp_path / "a.whl", files, (2020, 1, 1, 0, 0, 0))
    b = _wheel(tmp_path / "b.whl", files, (2026, 12, 2, 3, 4, 5))
    c = _wheel(tmp_path / "c.whl", {**files, "x/__init__.py": "A = 2\n"}, (2020, 1, 1, 0, 0, 0))
    assert a.read_bytes() != b.read_bytes()
    assert wheel_content_hash(a) == wheel_content_hash(b) != wheel_content_hash(c)


def test_pip_is_asked_for_every_glibc_the_host_loads_and_wheels_only() -> None:
    args = Platform("aarch64", "3.11", (2, 34)).pip_args()
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms[0] == "manylinux_2_34_aarch64" and platforms[-2:] == ["manylinux_2_17_aarch64",
                                                                             "manylinux2014_aarch64"]
    assert len(platforms) == 34 - 17 + 2
    assert "--only-binary=:all:" in args and args[args.index("--python-version") + 1] == "3.11"
    with pytest.raises(ValueError, match="machine='arm64' is not allowed: x86_64 or aarch64"):
        Platform("arm64", "3.11")


def test_an_installed_copy_says_it_needs_the_source(tmp_path: Path) -> None:
    with pytest.raises(WheelhouseError, match=r"^the wheelhouse is built from the project's source: .*/pyproject\.toml "
                                              r"does not exist \(is this an installed copy rather than the "
                                              r"repository\?\)$"):
        build_wheelhouse(tmp_path, extra=EXTRA, platform=Platform("x86_64", "3.11"), cache_dir=tmp_path / "c")


def test_offline_without_the_wheels_is_one_error_naming_what_is_missing(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # The build backend as a synth with the network left it in the project's cache.
    warm = build_wheelhouse(PROJECT_DIR, extra=EXTRA, platform=Platform("x86_64", "3.11"))
    cache = tmp_path / "cache"
    shutil.copytree(warm.project_wheel.parents[2] / "build-tools", cache / "build-tools")
    empty = tmp_path / "nothing"
    empty.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))

    with pytest.raises(WheelhouseError) as raised:
        build_wheelhouse(PROJECT_DIR, extra=EXTRA, platform=Platform("aarch64", "3.11"), cache_dir=cache)

    message = str(raised.value)
    assert "\n" not in message
    assert re.match(r"the wheels for CPython 3\.11 on linux/aarch64 \(glibc 2\.34\) cannot be downloaded: "
                    r"(No matching distribution found for|cannot resolve) [A-Za-z0-9_.-]+(\[\w+\])?==[0-9]", message), \
        message
    assert f"; synth needs the network once to fill {cache}/dependencies/{Platform('aarch64', '3.11').key}-" in message
    assert message.endswith(" (then it works offline)")
    # The project's wheel was built offline; of the dependencies nothing is left, not even a temporary folder.
    assert sorted(p.name for p in cache.iterdir()) == ["build-tools", "project"]
    assert list((cache / "project").glob("*/*.whl"))
