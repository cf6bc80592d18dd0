"""What the drill tests share: an admin connection to the twin's writer, and the drill CLI as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from app_code.local.state import State
from app_code.local.twin import Twin

ROOT = Path(__file__).resolve().parents[2]


def writer_admin(twin: Twin) -> psycopg.Connection:
    """A superuser connection through the writer endpoint: what switches a protection off in a test."""
    creds = State.load(twin.state_dir).data["secrets"]["database"]  # type: ignore[union-attr]
    host, port = twin.stack("Database")["WriterEndpoint"].rsplit(":", 1)
    return psycopg.connect(host=host, port=int(port), user=creds["username"], password=creds["password"],
                           dbname="postgres", sslmode="verify-full", sslrootcert=twin.ca_bundle, autocommit=True)


def drill_json(twin: Twin, *args: str) -> tuple[int, dict[str, Any], str]:
    """`python -m app_code drill ... --json`: (exit code, the one JSON object on stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "app_code", "drill", *args, "--outputs", str(twin.state_dir),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"stdout must be one JSON object:\n{done.stdout}\n{done.stderr}"
    return done.returncode, json.loads(lines[0]), done.stderr
