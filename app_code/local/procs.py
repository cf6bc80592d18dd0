"""Start, recognise and stop the twin's server processes.

Each server runs in its own session (process group), so stopping it takes its children too
(PostgreSQL backends, WAL senders). A process is recognised by its pid *and* its kernel start time,
both kept in the state file: after a crash or reboot the pid may belong to something else by now,
and `down` must never signal that.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import cdk_data_tier
from cdk_data_tier.app.local import ports

# Where `cdk_data_tier` is importable from (the repository or site-packages): the working directory of the
# twin's own `python -m cdk_data_tier...` children.
IMPORT_ROOT = Path(cdk_data_tier.__file__ or ".").resolve().parent.parent

T = TypeVar("T")
POLL_INTERVAL = 0.05


class StartError(RuntimeError):
    """A server did not come up; the message carries the end of its log."""


@dataclass
class ProcRecord:
    name: str
    kind: str
    pid: int
    starttime: int
    log: str
    port: int | None = None
    stop_signal: int = signal.SIGTERM
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcRecord:
        return cls(**data)


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return stat[stat.rindex(")") + 2:].split()


def starttime(pid: int) -> int | None:
    """Kernel start time of `pid` in clock ticks, or None when it is gone or a zombie."""
    fields = stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time `pid` has used so far, or None when it is gone."""
    fields = stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def is_running(rec: ProcRecord) -> bool:
    return starttime(rec.pid) == rec.starttime


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg; only live members matter.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


def run_as(user: str | None) -> dict[str, Any]:
    """Popen keyword arguments that drop to `user` (only meaningful when we are root)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def spawn(name: str, kind: str, cmd: Sequence[str | os.PathLike[str]], *, log: Path, port: int | None = None,
          user: str | None = None, env: Mapping[str, str] | None = None, cwd: Path | None = None,
          stop_signal: int = signal.SIGTERM) -> tuple[subprocess.Popen[bytes], ProcRecord]:
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=dict(env) if env is not None else None, cwd=cwd,
                                **run_as(user))
    started = starttime(proc.pid)
    return proc, ProcRecord(name=name, kind=kind, pid=proc.pid, starttime=started or 0, log=str(log), port=port,
                            stop_signal=stop_signal)


def run(cmd: Sequence[str | os.PathLike[str]], *, what: str, user: str | None = None, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, timeout: float = 60) -> str:
    """Run a one-shot tool (initdb, pg_basebackup); its output becomes the error when it fails."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL, **run_as(user))
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise StartError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def log_tail(path: str | Path, lines: int = 12) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str,
               proc: subprocess.Popen[bytes] | None = None, log: str | Path | None = None) -> T:
    """Poll `check` until it returns a value other than None/False, the process dies, or the deadline passes.

    `check` may raise while the server is still starting; the last error is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"{what}: process exited with code {proc.returncode}\n{log_tail(log) if log else ''}")
        try:
            result = check()
            if result is not None and result is not False:
                return result
        except Exception as err:  # noqa: BLE001 - any failure while starting means "not yet"
            last = err
        if time.monotonic() >= deadline:
            detail = f" (last error: {last})" if last else ""
            raise StartError(f"{what}: not ready after {timeout:.0f}s{detail}\n{log_tail(log) if log else ''}")
        time.sleep(POLL_INTERVAL)


def stop(records: Sequence[ProcRecord], *, timeout: float = 10) -> list[str]:
    """Stop every still-running record (its whole process group); returns the names it had to stop."""
    live = [r for r in records if is_running(r)]
    _signal_groups(live, None)
    if not _wait_gone(live, timeout):
        _signal_groups(live, signal.SIGKILL)
        if not _wait_gone(live, 5):
            raise RuntimeError(f"could not stop: {', '.join(r.name for r in live if group_alive(r.pid))}")
    _wait_ports_closed(live, timeout=5)
    return [r.name for r in live]


def kill(rec: ProcRecord, sig: int = signal.SIGKILL, *, group: bool = True, timeout: float = 30) -> None:
    """Signal one server (its whole process group, or only its leader) and wait until all of it is gone.

    SIGKILL to the group is a crash (a failover's fault); SIGINT to a PostgreSQL postmaster alone is its
    fast shutdown (a reboot: what was committed is written out first)."""
    if not is_running(rec):
        return
    try:
        os.killpg(rec.pid, sig) if group else os.kill(rec.pid, sig)
    except ProcessLookupError:
        return
    if not _wait_gone([rec], timeout):
        raise RuntimeError(f"{rec.name} still runs {timeout:.0f}s after signal {sig}")
    _wait_ports_closed([rec], timeout=5)


def _wait_ports_closed(records: Sequence[ProcRecord], timeout: float) -> None:
    """Seen here: a killed server's port can still accept for a moment after its process is reaped.
    Callers are told the twin is down only once its ports refuse; best effort, since another program
    may legitimately take a freed port."""
    deadline = time.monotonic() + timeout
    while any(r.port and ports.in_use(r.port) for r in records) and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)


def _signal_groups(records: Sequence[ProcRecord], sig: int | None) -> None:
    for rec in records:
        try:
            os.killpg(rec.pid, rec.stop_signal if sig is None else sig)
        except ProcessLookupError:
            pass


def _wait_gone(records: Sequence[ProcRecord], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(records)
        if not any(group_alive(r.pid) for r in records):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)


def _reap(records: Sequence[ProcRecord]) -> None:
    # Children of this very process (the pytest fixture case) linger as zombies until waited for.
    for rec in records:
        try:
            os.waitpid(rec.pid, os.WNOHANG)
        except ChildProcessError:
            pass


BIND_ATTEMPTS = 3


def start_on_free_port(*, pick_port: Callable[[], int],
                       start: Callable[[int], tuple[subprocess.Popen[bytes], ProcRecord]],
                       record: Callable[[ProcRecord], None], ready: Callable[[], object], log: Path, what: str,
                       timeout: float) -> None:
    """Start a server on a free port and wait until it answers.

    A port the kernel called free can be taken before the server binds it; only that race is retried.
    """
    for attempt in range(BIND_ATTEMPTS):
        log_size = log.stat().st_size if log.exists() else 0
        proc, rec = start(pick_port())
        record(rec)
        try:
            wait_until(ready, timeout=timeout, what=what, proc=proc, log=log)
            return
        except StartError:
            text = log.read_text(errors="replace")[log_size:]
            if attempt + 1 < BIND_ATTEMPTS and proc.poll() is not None and ports.lost_race(text):
                continue
            raise
