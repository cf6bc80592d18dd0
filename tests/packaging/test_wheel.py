"""The distribution as a user gets it: `python -m build` (the sdist, then the wheel from that sdist), the wheel
installed with its extras `app,twin` into a fresh venv outside the repository, and used from there.

The fresh venv sees nothing of this one: its dependencies come only from the wheel's own Requires-Dist, through
a wheelhouse (`pip wheel` of exactly those, cached under .cache/wheelhouse/ and keyed on them, so reruns need
no index) and `--no-index`. Its commands run from a folder outside the checkout with a PATH that holds neither
venv's bin/.
"""

from __future__ import annotations

import email
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cdk_data_tier import __version__
from cdk_data_tier.app.local.ports import in_use
from cdk_data_tier.app.local.procs import ProcRecord, is_running
from tests.fixtures_synth import ROOT, Synthesized
from tests.local.helpers import assembly

WHEELHOUSES = ROOT / ".cache" / "wheelhouse"
# The repository's folders -> where the wheel puts them.
MAPPED = {"app_code": "cdk_data_tier/app", "stacks": "cdk_data_tier/stacks",
          "cdk_constructs": "cdk_data_tier/constructs"}
EXAMPLE = ROOT / "examples" / "existing-vpc"


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path
    log: str

    def wheel_names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.namelist()

    def metadata(self) -> email.message.Message:
        with zipfile.ZipFile(self.wheel) as archive:
            return email.message_from_bytes(archive.read(f"cdk_data_tier-{__version__}.dist-info/METADATA"))


@dataclass(frozen=True)
class Installed:
    venv: Path
    outside: Path  # a folder outside the checkout, 0711 so the twin's unprivileged PostgreSQL could enter it

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def site_packages(self) -> Path:
        return next((self.venv / "lib").glob("python3*/site-packages"))

    def env(self) -> dict[str, str]:
        """The user's shell: no venv activated (so not the venv's Node 24), nothing of this checkout imported."""
        ours = {Path(sys.executable).parent.resolve(), self.bin.resolve()}
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() not in ours]
        drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
        return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("AWS_", "CDK_"))} | {
            "PATH": os.pathsep.join(path), "HOME": str(self.outside), "COLUMNS": "200"}

    def run(self, *args: str, cwd: Path | None = None, timeout: int = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=cwd or self.outside, env={**self.env(), **(env or {})},
                              capture_output=True, text=True, timeout=timeout)


def _source_copy(target: Path) -> Path:
    """What a clone holds plus this checkout's uncommitted files (links kept as links): the build never writes
    its egg-info into the checkout, and ignored files (.venv, cdk.out) stay out."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, dest = ROOT / name, target / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree, not yet in the index
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, dest)
    return target


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    source = _source_copy(tmp_path_factory.mktemp("source") / "cdk-data-tier")
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dists(wheel=wheel, sdist=sdist, log=built.stdout + built.stderr)


def _requires(dists: Dists) -> list[Requirement]:
    return [Requirement(line) for line in dists.metadata().get_all("Requires-Dist") or []]


def _without_marker(requirement: Requirement) -> str:
    """`moto[server]==5.2.5` of `moto[server]==5.2.5; extra == "twin"`: pip skips a line whose marker is false."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}{requirement.specifier}"


def _wheelhouse(dists: Dists) -> Path:
    """Wheels of everything the wheel's `app,twin` install needs, built once per set of requirements."""
    wanted = sorted(_without_marker(r) for r in _requires(dists) if r.marker is None or
                    any(r.marker.evaluate({"extra": extra}) for extra in ("app", "twin")))
    key = hashlib.sha256(json.dumps([sys.version_info[:2], wanted]).encode()).hexdigest()[:16]
    house = WHEELHOUSES / key
    if (house / ".complete").exists():
        return house
    WHEELHOUSES.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=WHEELHOUSES))
    fetched = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                              "-w", str(partial), *wanted], capture_output=True, text=True, timeout=1800)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    (partial / ".complete").write_text("\n".join(wanted) + "\n")
    try:
        partial.rename(house)
    except OSError:  # another run finished the same wheelhouse first
        shutil.rmtree(partial)
    return house


@pytest.fixture(scope="module")
def installed(dists: Dists) -> Iterator[Installed]:
    house = _wheelhouse(dists)
    venv = Path(tempfile.mkdtemp(prefix="cdk-data-tier-venv-"))
    outside = Path(tempfile.mkdtemp(prefix="cdk-data-tier-user-"))
    os.chmod(outside, 0o711)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
        # --no-compile: byte-compiling aws-cdk-lib and botocore would double the install for nothing tested here.
        done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                               "--quiet", "--disable-pip-version-check", "--no-compile", "--no-index",
                               "--find-links", str(house), f"{dists.wheel}[app,twin]"],
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        yield Installed(venv=venv, outside=outside)
    finally:
        shutil.rmtree(venv, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)


# -- what the files hold -------------------------------------------------------------------------
def test_the_wheel_holds_one_package_with_its_data(dists: Dists) -> None:
    names = set(dists.wheel_names())
    assert {n.split("/")[0] for n in names} == {"cdk_data_tier", f"cdk_data_tier-{__version__}.dist-info"}
    expected = {"cdk_data_tier/__init__.py", "cdk_data_tier/node_runtime.py"}
    for folder, target in MAPPED.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                expected.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    # Every file of the three folders, data too: the price sheet, the products, the rotation handler.
    assert sorted(expected - names) == []
    assert {"cdk_data_tier/app/cost/prices.json", "cdk_data_tier/app/data/products.jsonl",
            "cdk_data_tier/constructs/lambdas/cache_auth_rotation/index.py"} <= names
    assert f"cdk_data_tier-{__version__}.dist-info/licenses/LICENSE" in names
    assert dists.metadata()["License-Expression"] == "Apache-2.0"
    assert dists.metadata()["Requires-Python"] == ">=3.11"


def test_the_wheel_is_built_from_the_sdist_which_carries_its_sources(dists: Dists) -> None:
    assert "Building wheel from sdist" in dists.log
    with tarfile.open(dists.sdist) as archive:
        names = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
        links = [m.name for m in archive.getmembers() if m.issym() or m.islnk()]
    assert {"pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md", "requirements/core.txt",
            "requirements/app.txt", "requirements/twin.txt", "requirements/dev.txt",
            "cdk_data_tier/app/cli.py"} <= names
    assert links == []  # the links are followed: the sdist unpacks the same on any system
    assert not any(n.startswith("tests/") for n in names)


def _pins(path: Path, seen: list[Path]) -> list[tuple[Path, Requirement]]:
    """(file the pin is written in, pin) of a requirements file and of every file it includes with -r."""
    seen.append(path)
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r"):
            found += _pins(path.parent / line[2:].strip(), seen)
        elif line:
            found.append((path, Requirement(line)))
    return found


def test_requires_dist_matches_every_pin_of_the_requirements_files(dists: Dists) -> None:
    """requirements/core.txt is the core, requirements/<extra>.txt an extra; requirements*.txt only include them."""
    declared = {(r.name.lower(), str(r.specifier), frozenset(r.extras), str(r.marker) if r.marker else "")
                for r in _requires(dists)}
    runtime_files: list[Path] = []
    runtime = _pins(ROOT / "requirements.txt", runtime_files)
    every = _pins(ROOT / "requirements-dev.txt", [])
    assert {f.parent.name for f, _ in every} == {"requirements"}  # no pin outside requirements/
    assert {f.stem for f, _ in runtime} == {"core", "app", "twin"}  # make setup gets every extra a user can
    assert {f.stem for f, _ in every} == {"core", "app", "twin", "dev"}
    expected = set()
    for file, pin in every:
        marker = "" if file.stem == "core" else f'extra == "{file.stem}"'
        expected.add((pin.name.lower(), str(pin.specifier), frozenset(pin.extras), marker))
    assert all(str(pin.specifier).startswith("==") for _, pin in every)
    assert sorted(expected - declared, key=str) == []
    assert sorted(declared - expected, key=str) == []


# -- an installed copy, used from outside the checkout -------------------------------------------
def test_the_installed_package_is_the_wheels_and_data_tier_runs(installed: Installed) -> None:
    where = installed.run(str(installed.bin / "python"), "-c",
                          "import cdk_data_tier.app.cli, cdk_data_tier.app.cost.sheet as s; "
                          "print(cdk_data_tier.app.cli.__file__); print(s.SHEET.is_file())")
    assert where.returncode == 0, where.stderr
    cli_file, sheet = where.stdout.split()
    assert Path(cli_file).is_relative_to(installed.site_packages()) and sheet == "True"
    assert not any((installed.site_packages() / name).exists() for name in ("stacks", "app_code", "cdk_constructs"))
    helped = installed.run(str(installed.bin / "data-tier"), "--help")
    assert helped.returncode == 0, helped.stderr
    assert all(command in helped.stdout for command in ("local", "run", "cost", "drill"))
    checked = subprocess.run([sys.executable, "-m", "pip", "--python", str(installed.bin / "python"), "check"],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_users_app_synthesizes_with_the_installed_constructs(installed: Installed) -> None:
    app_dir = installed.outside / "existing-vpc"
    shutil.copytree(EXAMPLE, app_dir)
    out = installed.outside / "example.out"
    # What `cdk synth` hands the app: cdk.json's context and the output folder.
    context = json.loads((app_dir / "cdk.json").read_text())["context"]
    done = installed.run(str(installed.bin / "python"), "app.py", cwd=app_dir,
                         env={"CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps(context)})
    assert done.returncode == 0, done.stderr[-3000:]
    # The machine's Node 20 banner would be here: importing the constructs first gave jsii the venv's Node 24.
    assert "currently running on node" not in done.stderr, done.stderr[-1500:]
    kinds = [r["Type"] for r in json.loads((out / "orders-data.template.json").read_text())["Resources"].values()]
    assert kinds.count("AWS::ElastiCache::ReplicationGroup") == 1 and kinds.count("AWS::RDS::DBInstance") == 2
    report = json.loads((out / "validation-report.json").read_text())
    assert all(p["violations"] == [] for p in report["pluginReports"])


def test_local_up_outside_a_checkout_without_an_assembly_is_one_line(installed: Installed) -> None:
    empty = installed.outside / "empty"
    empty.mkdir()
    done = installed.run(str(installed.bin / "data-tier"), "local", "up", "-e", "dev", cwd=empty)
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "no cdk.json in" in done.stderr and "--cdk-out" in done.stderr
    assert list(empty.iterdir()) == []


@pytest.mark.engines
def test_local_up_on_the_installed_copy(installed: Installed, dev: Synthesized) -> None:
    work = installed.outside / "work"
    work.mkdir()
    os.chmod(work, 0o711)
    given = assembly(work / "assembly", dev.outdir, "dev", "Cache", "Dynamo")
    state = work / ".twin" / "dev"
    cli = str(installed.bin / "data-tier")
    records: list[ProcRecord] = []
    try:
        up = installed.run(cli, "local", "up", "-e", "dev", "--cdk-out", str(given), cwd=work, timeout=600)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        # The default state directory is the working folder's, never site-packages'.
        records = [ProcRecord.from_json(p) for p in json.loads((state / "state.json").read_text())["procs"]]
        assert {r.kind for r in records} >= {"moto", "redis"}
        assert set(json.loads((state / "outputs.json").read_text())) == {"dev-Cache", "dev-Dynamo"}
        assert not list(installed.site_packages().rglob(".twin"))
        status = installed.run(cli, "local", "status", "-e", "dev", cwd=work)
        assert status.returncode == 0 and "moto" in status.stdout, status.stdout + status.stderr
    finally:
        down = installed.run(cli, "local", "down", "-e", "dev", cwd=work, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert [r.name for r in records if is_running(r)] == []
    assert [r.port for r in records if r.port and in_use(r.port)] == []
    assert not (work / ".twin").exists()
