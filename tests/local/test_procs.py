"""The /proc readers the twin and the benches rely on, against real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cdk_data_tier.app.local.procs import cpu_seconds, starttime, stat_fields


def test_cpu_seconds_grows_while_a_process_works_and_is_none_once_it_is_gone() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 0.6\nwhile time.time() < end: pass"])
    try:
        first = cpu_seconds(busy.pid)
        assert first is not None
        time.sleep(0.4)
        later = cpu_seconds(busy.pid)
        assert later is not None and later - first >= 0.1
    finally:
        busy.wait(timeout=10)
    assert cpu_seconds(busy.pid) is None


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields(tmp_path) -> None:
    odd = tmp_path / "a (b) c"
    odd.symlink_to("/bin/sleep")
    proc = subprocess.Popen([str(odd), "5"])
    try:
        fields = stat_fields(proc.pid)
        assert fields is not None and fields[0] in "RSD"
        assert int(fields[1]) == os.getpid()  # the parent's pid lands in its field only when the split was right
        assert starttime(proc.pid) == starttime(proc.pid) and (starttime(proc.pid) or 0) > 0
    finally:
        proc.kill()
        proc.wait()
    assert starttime(proc.pid) is None
