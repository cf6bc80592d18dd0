"""Database servers refuse to run as root: under root they run as an unprivileged user.

Their data must then live where that user can reach it. The state dir is used when it can; when it
sits below a directory the user cannot enter (a clone in /root, a 0700 pytest temp dir) the data
goes to a private temp dir instead, linked from the state dir and removed by `down`.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from pathlib import Path

from cdk_data_tier.app.local.procs import StartError
from cdk_data_tier.app.local.state import State


def run_user(*preferred: str) -> str | None:
    """The user a database server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("TWIN_DB_USER"), *preferred, "nobody"):
        if name:
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
    raise StartError(f"running as root, but none of the users {', '.join(preferred)}, nobody exists "
                     "to run the database server as")


def ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def reachable_by(user: str, path: Path) -> bool:
    # Asked of the user itself: Popen's cwd= would not tell, it changes directory before dropping root.
    uid, gid = ids(user)
    try:
        done = subprocess.run(["test", "-w", str(path)], user=uid, group=gid, extra_groups=[], timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def data_root(state: State, name: str, user: str | None) -> Path:
    root = state.path(name)
    root.mkdir(mode=0o700)
    if user is None:
        return root
    uid, gid = ids(user)
    os.chown(root, uid, gid)
    if reachable_by(user, root):
        return root
    external = Path(tempfile.mkdtemp(prefix=f"twin-{state.env}-{name}-"))
    state.add_external_dir(external)
    os.chown(external, uid, gid)
    root.rmdir()
    root.symlink_to(external)
    return external


def chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    uid, gid = ids(user)
    os.chown(path, uid, gid)
    for child in path.rglob("*"):
        os.chown(child, uid, gid, follow_symlinks=False)


def write_private(path: Path, text: str, user: str | None, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if user is not None:
        os.chown(path, *ids(user))


def user_log(path: Path, user: str | None) -> Path:
    """A log file the server's user may append to."""
    path.parent.mkdir(exist_ok=True)
    path.touch()
    if user is not None:
        os.chown(path, *ids(user))
    return path


def own_dir(path: Path, user: str | None) -> Path:
    """A directory (made if missing) that the database's user owns: its programs write into it."""
    path.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        os.chown(path, *ids(user))
    return path
