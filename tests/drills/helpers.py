"""What the drill tests share: an admin connection to the twin's writer, and the drill CLI's JSON."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.twin import Twin


def writer_admin(twin: Twin) -> psycopg.Connection:
    """A superuser connection through the writer endpoint: what switches a protection off in a test."""
    creds = State.load(twin.state_dir).data["secrets"]["database"]  # type: ignore[union-attr]
    host, port = twin.stack("Database")["WriterEndpoint"].rsplit(":", 1)
    return psycopg.connect(host=host, port=int(port), user=creds["username"], password=creds["password"],
                           dbname="postgres", sslmode="verify-full", sslrootcert=twin.ca_bundle, autocommit=True)


def drill_json(twin: Twin, capsys: Any, *args: str) -> tuple[int, dict[str, Any], str]:
    """`python -m app_code drill ... --json` (its main, in this process): (exit code, the one JSON object on
    stdout, stderr)."""
    from cdk_data_tier.app.cli import main

    rc = main(["drill", *args, "--outputs", str(twin.state_dir), "--json"])
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"stdout must be one JSON object:\n{out}\n{err}"
    return rc, json.loads(lines[0]), err
