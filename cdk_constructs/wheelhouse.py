"""A wheelhouse for a host: a project's wheel, and wheels of the pinned dependencies of one of its extras.

Built at synth time for the host's Python and processor (`pip download --platform ... --only-binary=:all:`,
never an sdist, which the host could not build offline), so that the host installs it with `pip install
--no-index` and fetches nothing from the internet. Both parts are cached under `<project>/.wheelhouse`:

- the dependencies by a hash of what decides them (the extra's requirements, the versions this interpreter
  has installed of their whole closure, which pin the transitive ones to what the tests ran with, and the
  target platform), so they are downloaded once, and synth is offline after that;
- the project's wheel by a hash of its source tree, so it is rebuilt only when the code changes.

What identifies a build for deploying is `content_hash`: the hashes of every file inside the wheel (its
RECORD), not the zip's bytes, whose timestamps change with each rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from zipfile import ZipFile

REQUIREMENTS = "requirements.txt"
# Top-level entries of a project that never go into its wheel (and would only slow the copy and the hash).
_NOT_SOURCE = {"node_modules", "tests", "docs", "bench", "examples", "build", "dist", "__pycache__"}
_NAME = re.compile(r"[-_.]+")


class WheelhouseError(Exception):
    """The wheelhouse cannot be built: the message names what is missing and how to get it."""


@dataclass(frozen=True)
class Platform:
    """Where the wheels must load: CPython `python` on Linux/`machine` with glibc `glibc` or newer."""

    machine: str  # `uname -m`: x86_64 or aarch64
    python: str  # "3.11"
    glibc: tuple[int, int] = (2, 34)

    def __post_init__(self) -> None:
        if self.machine not in ("x86_64", "aarch64"):
            raise ValueError(f"machine={self.machine!r} is not allowed: x86_64 or aarch64")
        if not re.fullmatch(r"3\.[0-9]+", self.python):
            raise ValueError(f"python={self.python!r} is not allowed: a CPython 3 version like '3.11'")

    @classmethod
    def local(cls) -> Platform:
        """This machine's (tests build the same wheelhouse for it, to install it here)."""
        libc, version = host_platform.libc_ver()
        if libc != "glibc":
            raise WheelhouseError(f"this machine's C library is {libc or 'unknown'}, not glibc: no manylinux wheels")
        major, minor = (int(p) for p in version.split(".")[:2])
        return cls(machine=host_platform.machine(), python=f"{sys.version_info.major}.{sys.version_info.minor}",
                   glibc=(major, minor))

    @property
    def key(self) -> str:
        return f"cp{self.python.replace('.', '')}-manylinux_{self.glibc[0]}_{self.glibc[1]}_{self.machine}"

    def pip_args(self) -> list[str]:
        # pip matches --platform exactly, so every glibc the host can load is named, newest first.
        tags = [f"manylinux_{self.glibc[0]}_{minor}_{self.machine}" for minor in range(self.glibc[1], 16, -1)]
        platforms = [arg for tag in (*tags, f"manylinux2014_{self.machine}") for arg in ("--platform", tag)]
        abi = f"cp{self.python.replace('.', '')}"
        return [*platforms, "--python-version", self.python, "--implementation", "cp", "--abi", abi, "--abi", "abi3",
                "--abi", "none", "--only-binary=:all:"]

    def __str__(self) -> str:
        return f"CPython {self.python} on linux/{self.machine} (glibc {self.glibc[0]}.{self.glibc[1]})"


@dataclass(frozen=True)
class Wheelhouse:
    project_wheel: Path  # the project's own wheel
    dependencies: Path  # a folder: the dependencies' wheels and requirements.txt, their pinned closure
    name: str  # the distribution's name, as its metadata spells it
    version: str
    extra: str
    platform: Platform
    content_hash: str  # of the files inside the project's wheel
    dependencies_hash: str  # of what decided the dependencies

    @property
    def release(self) -> str:
        """One name for this pair: the version, then the two hashes (a new one for any change of either)."""
        return f"{self.version}-{self.content_hash[:12]}-{self.dependencies_hash[:12]}"


def build_wheelhouse(project_dir: Path, *, extra: str, platform: Platform, cache_dir: Path | None = None,
                     echo=None) -> Wheelhouse:
    """The wheelhouse of `project_dir[extra]` for `platform`, from the cache when it holds one."""
    project_dir = project_dir.resolve()
    cache_dir = (cache_dir or project_dir / ".wheelhouse").resolve()
    say = echo or (lambda message: print(message, file=sys.stderr))
    if not (project_dir / "pyproject.toml").is_file():
        raise WheelhouseError(f"the wheelhouse is built from the project's source: {project_dir}/pyproject.toml "
                              "does not exist (is this an installed copy rather than the repository?)")
    wheel = _project_wheel(project_dir, cache_dir, say)
    info = _wheel_metadata(wheel)
    requirements = _extra_requirements(info, extra, wheel)
    pins = sorted(_installed_closure(requirements, skip={_normal(info["Name"])}))
    decided_by = json.dumps({"requirements": requirements, "installed": pins, "platform": platform.key})
    deps_hash = hashlib.sha256(decided_by.encode()).hexdigest()
    deps = cache_dir / "dependencies" / f"{platform.key}-{deps_hash[:16]}"
    if not (deps / REQUIREMENTS).is_file():
        say(f"wheelhouse: downloading the wheels of {info['Name']}[{extra}] for {platform} into {deps}")
        _download(deps, requirements, pins, platform)
    return Wheelhouse(project_wheel=wheel, dependencies=deps, name=info["Name"], version=info["Version"], extra=extra,
                      platform=platform, content_hash=wheel_content_hash(wheel), dependencies_hash=deps_hash)


# -- the project's wheel --------------------------------------------------------------------------------------
def source_files(project_dir: Path) -> Iterator[Path]:
    """What the wheel may be built from: the project, less hidden, generated and test folders. A link is
    listed as itself, not followed (cdk_data_tier/ links the repository's folders)."""
    for entry in sorted(project_dir.iterdir()):
        if entry.name.startswith(".") or entry.name in _NOT_SOURCE or entry.name.startswith("cdk.out") \
                or entry.name.endswith(".egg-info"):
            continue
        if entry.is_symlink() or entry.is_file():
            yield entry
            continue
        for folder, dirs, files in os.walk(entry):
            here = Path(folder)
            links = [d for d in dirs if (here / d).is_symlink()]
            dirs[:] = sorted(d for d in dirs if d not in links and d != "__pycache__" and not d.startswith("."))
            for name in sorted([*files, *links]):
                if not name.endswith(".pyc") and not name.startswith("."):
                    yield here / name


def source_hash(project_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in source_files(project_dir):
        rel = path.relative_to(project_dir).as_posix()
        # A link is hashed as a link (cdk_data_tier/ links its folders), not followed into a second copy.
        body = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        digest.update(f"{rel}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()


def wheel_content_hash(wheel: Path) -> str:
    """A hash of the wheel's files, from its RECORD (each file's sha256): equal for equal contents."""
    with ZipFile(wheel) as archive:
        (record,) = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        lines = sorted(line for line in archive.read(record).decode().splitlines()
                       if line and not line.startswith(record + ","))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _project_wheel(project_dir: Path, cache_dir: Path, say) -> Path:
    key = source_hash(project_dir)
    home = cache_dir / "project" / key[:16]
    found = sorted(home.glob("*.whl"))
    if found:
        os.utime(home)  # in use: the last to be pruned
        return found[0]
    tools = _build_tools(project_dir, cache_dir)
    say(f"wheelhouse: building the wheel of {project_dir}")
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=_mkdir(cache_dir)) as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        for path in source_files(project_dir):
            target = src / path.relative_to(project_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                target.symlink_to(os.readlink(path))
            else:
                shutil.copy2(path, target)
        # The build requirements come from the cache, so a rebuild after a code change needs no network.
        env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tools)}
        result = _pip(["wheel", "--no-deps", "--wheel-dir", str(out), str(src)], env=env)
        wheels = sorted(out.glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise WheelhouseError(f"building the wheel of {project_dir} failed: {_last_error(result.stderr)}")
        _publish(out, home)
    _prune(home.parent, keep=3)
    return sorted(home.glob("*.whl"))[0]


def _build_tools(project_dir: Path, cache_dir: Path) -> Path:
    """The wheels of the build backend ([build-system] requires), downloaded once."""
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text())
    requires = sorted(pyproject.get("build-system", {}).get("requires", ["setuptools>=40.8.0"]))
    home = cache_dir / "build-tools" / hashlib.sha256(json.dumps(requires).encode()).hexdigest()[:16]
    if (home / REQUIREMENTS).is_file():
        return home
    with tempfile.TemporaryDirectory(prefix="tools-", dir=_mkdir(cache_dir)) as tmp:
        out = Path(tmp) / "wheels"
        result = _pip(["download", "--only-binary=:all:", "--dest", str(out), "--progress-bar", "off",
                       "--retries", "3", *requires])
        if result.returncode != 0:
            raise WheelhouseError(f"the build backend {' '.join(requires)} cannot be downloaded "
                                  f"({_last_error(result.stderr)}): synth needs the network once to fill {home}")
        (out / REQUIREMENTS).write_text("\n".join(requires) + "\n")
        _publish(out, home)
    return home


def _wheel_metadata(wheel: Path):
    with ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
        return Parser().parsestr(archive.read(name).decode())


# -- the dependencies -----------------------------------------------------------------------------------------
def _extra_requirements(info, extra: str, wheel: Path) -> list[str]:
    """The requirements that `name[extra]` adds, markers dropped (they select the extra, nothing else)."""
    from packaging.requirements import Requirement

    if extra not in info.get_all("Provides-Extra", []):
        raise WheelhouseError(f"{wheel.name} has no extra {extra!r} (it has: "
                              f"{', '.join(info.get_all('Provides-Extra', [])) or 'none'})")
    out = []
    for line in info.get_all("Requires-Dist", []):
        req = Requirement(line)
        if req.marker is not None and req.marker.evaluate({"extra": extra}) and not req.marker.evaluate({"extra": ""}):
            req.marker = None
            out.append(str(req))
    return sorted(out)


def _installed_closure(requirements: Iterable[str], *, skip: set[str]) -> set[str]:
    """`name==version` of every distribution this interpreter has installed that the requirements pull in."""
    from packaging.requirements import Requirement

    pins: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = _normal(req.name)
        if (name, frozenset(req.extras)) in seen or name in skip:
            continue
        seen.add((name, frozenset(req.extras)))
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # not installed here: pip resolves it for the target
        pins.add(f"{name}=={dist.version}")
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                todo.append(sub)
    return pins


def _download(home: Path, requirements: list[str], pins: list[str], platform: Platform) -> None:
    cache_dir = home.parent.parent  # the temporary folder sits beside dependencies/, which a failure leaves alone
    with tempfile.TemporaryDirectory(prefix="deps-", dir=_mkdir(cache_dir)) as tmp:
        wanted, constraints = Path(tmp) / "wanted.txt", Path(tmp) / "constraints.txt"
        wanted.write_text("\n".join(requirements) + "\n")
        constraints.write_text("\n".join(pins) + "\n")
        out = Path(tmp) / "wheels"
        result = _pip(["download", "--dest", str(out), "--progress-bar", "off", "--retries", "3",
                       "-r", str(wanted), "-c", str(constraints), *platform.pip_args()])
        if result.returncode != 0:
            raise WheelhouseError(f"the wheels for {platform} cannot be downloaded: {_last_error(result.stderr)}; "
                                  f"synth needs the network once to fill {home} (then it works offline)")
        wheels = sorted(out.glob("*.whl"))
        not_wheels = sorted(p.name for p in out.iterdir() if p.suffix != ".whl")
        if not_wheels:
            raise WheelhouseError(f"pip downloaded files that are not wheels for {platform}: {', '.join(not_wheels)}")
        # What the host installs: the whole closure, pinned as downloaded.
        (out / REQUIREMENTS).write_text("\n".join(sorted(_pin_of(w) for w in wheels)) + "\n")
        _publish(out, home)


def _pin_of(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{_normal(name)}=={version}"


# -- helpers --------------------------------------------------------------------------------------------------
def _pip(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, env=env, timeout=1800, check=False)


def _last_error(stderr: str) -> str:
    """pip's own reason, in one line, naming the distribution it could not get where it says which."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and "is ignored" not in line]
    for line in lines:
        if "No matching distribution found for" in line:
            return line.removeprefix("ERROR: ")
    for line in lines:
        # What pip says when a constrained requirement has no candidate at all (or truly conflicts).
        cannot = re.match(r"ERROR: Cannot install (\S+) because", line)
        if cannot:
            return f"cannot resolve {cannot.group(1)}: no wheel of it found, or its dependencies conflict"
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1].removeprefix("ERROR: ")


def _publish(built: Path, home: Path) -> None:
    """Move a finished build into place at once: a reader never sees half of one."""
    home.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(built, home)
    except OSError:
        if not home.exists():
            raise  # else another synth published the same build first


def _prune(folder: Path, *, keep: int) -> None:
    entries = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _normal(name: str) -> str:
    return _NAME.sub("-", name).lower()
