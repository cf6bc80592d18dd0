"""MariaDB, the twin's stand-in for RDS MySQL: a primary and one binlog replica per read replica.

The replicas start from copies of the freshly installed data directory and replay the primary's
binlog from its first event (users, grants, the database), so all of them hold the same data.

Automated backups (app_code.local.mysql_backup): the primary's binlog plus a consistent dump that `start`
takes once the database exists.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pymysql

from cdk_data_tier.app.local import mysql_backup, ports, runas
from cdk_data_tier.app.local.binaries import mariadb_bindir
from cdk_data_tier.app.local.procs import StartError, run, spawn, start_on_free_port, wait_until
from cdk_data_tier.app.local.spec import DatabaseSpec
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.tls import TlsFiles

READY_TIMEOUT = 40
PRISTINE = "pristine"


@dataclass
class MyNode:
    name: str  # logical id in the template
    role: str  # primary | replica
    datadir: Path
    server_id: int
    port: int = 0

    @property
    def socket(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.sock"


class MariaDbTwin:
    def __init__(self, state: State, spec: DatabaseSpec, password: str, tls: TlsFiles) -> None:
        self.state = state
        self.spec = spec
        self.password = password
        self.server, self.install_db = mariadb_bindir()
        self.user = runas.run_user("mysql", "postgres")
        self.root = runas.data_root(state, "mysql", self.user)
        self.tls = self.root / "tls"
        self.tls.mkdir(mode=0o700)
        for src, name in ((tls.ca, "ca.pem"), (tls.cert, "server.pem"), (tls.key, "server.key")):
            shutil.copyfile(src, self.tls / name)
        runas.chown_tree(self.tls, self.user)
        self.primary = MyNode(spec.writer_id, "primary", self.root / "primary", 1)
        self.replicas = [MyNode(rid, "replica", self.root / f"replica-{i}", i + 1)
                         for i, rid in enumerate(spec.reader_ids, start=1)]

    @classmethod
    def attach(cls, state: State) -> MariaDbTwin:
        """The twin's database as `start` left it, from state.json."""
        saved = state.data["mysql"]
        self = cls.__new__(cls)
        self.state, self.spec = state, DatabaseSpec(**saved["spec"])
        self.password = state.data["secrets"]["database"]["password"]
        self.server, self.install_db = Path(saved["server"]), Path(saved["install_db"])
        self.user, self.root, self.tls = saved["user"], Path(saved["root"]), Path(saved["tls"])
        nodes = [MyNode(n["name"], n["role"], Path(n["datadir"]), n["server_id"], n["port"]) for n in saved["nodes"]]
        self.primary = next(n for n in nodes if n.role == "primary")
        self.replicas = [n for n in nodes if n.role == "replica"]
        return self

    def save(self) -> None:
        self.state.set("mysql", {
            "spec": dataclasses.asdict(self.spec), "server": str(self.server), "install_db": str(self.install_db),
            "user": self.user, "root": str(self.root), "tls": str(self.tls),
            "nodes": [{"name": n.name, "role": n.role, "datadir": str(n.datadir), "server_id": n.server_id,
                       "port": n.port} for n in self.nodes()]})

    def nodes(self) -> list[MyNode]:
        return [self.primary, *self.replicas]

    def start(self) -> None:
        run([self.install_db, "--no-defaults", f"--datadir={self.primary.datadir}", "--skip-test-db",
             "--auth-root-authentication-method=normal", "--skip-name-resolve"],
            what="mariadb-install-db", user=self.user, cwd=self.root, timeout=120)
        for node in self.replicas:
            run(["cp", "-a", self.primary.datadir, node.datadir], what=f"copy of the data dir for {node.name}",
                user=self.user, cwd=self.root)
        # A pristine data directory: what a restored copy starts from before its dump is loaded.
        run(["cp", "-a", self.primary.datadir, self.root / PRISTINE], what="copy of the fresh data dir",
            user=self.user, cwd=self.root)
        self._launch(self.primary)
        self._bootstrap()
        if self.replicas:
            with ThreadPoolExecutor(max_workers=len(self.replicas)) as pool:
                list(pool.map(self._start_replica, self.replicas))
        self.save()
        self.snapshot(None, "automated")

    def snapshot(self, snapshot_id: str | None, kind: str) -> mysql_backup.Dump:
        """A consistent dump of the primary at a binlog position: the automated one, or a manual snapshot."""
        return mysql_backup.take_snapshot(self.state, snapshot_id, kind=kind, root=self.root,
                                          socket=self.primary.socket, user=self.user)

    def _command(self, node: MyNode) -> list[str | Path]:
        cmd: list[str | Path] = [
            self.server, "--no-defaults", f"--datadir={node.datadir}", f"--port={node.port}",
            f"--bind-address={ports.HOST}", f"--socket={node.socket}", f"--pid-file={node.datadir}.pid",
            f"--server-id={node.server_id}", "--log-bin=binlog", "--binlog-format=ROW", "--skip-name-resolve",
            "--innodb-buffer-pool-size=16M", "--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0",
            "--performance-schema=OFF", "--max-connections=100",
            f"--ssl-ca={self.tls / 'ca.pem'}", f"--ssl-cert={self.tls / 'server.pem'}",
            f"--ssl-key={self.tls / 'server.key'}",
        ]
        if self.spec.force_tls:
            cmd.append("--require-secure-transport=ON")
        if node.role == "replica":
            cmd += ["--read-only=ON", "--relay-log=relay"]
        return cmd

    def _launch(self, node: MyNode, name: str | None = None, timeout: float = READY_TIMEOUT) -> None:
        name = name or f"mysql-{node.name}"
        log = runas.user_log(self.state.path("logs", f"mysql-{node.role}-{node.name}.log"), self.user)

        def start(port: int) -> tuple[Any, Any]:
            node.port = port
            proc, rec = spawn(name, "mysql", self._command(node), log=log, port=node.port,
                              user=self.user, cwd=self.root, stop_signal=signal.SIGTERM)
            rec.extra = {"role": node.role, "logical_id": node.name}
            return proc, rec

        start_on_free_port(pick_port=ports.free_port, start=start, record=self.state.add_proc,
                           ready=partial(self._answers, node), log=log, what=f"mysql {node.role} {node.name}",
                           timeout=timeout)

    def _answers(self, node: MyNode) -> bool:
        with self._local(node):
            return True

    def _local(self, node: MyNode) -> pymysql.connections.Connection:
        # The server's own root, over its socket: how the twin sets things up, never what clients use.
        return pymysql.connect(unix_socket=str(node.socket), user="root", connect_timeout=3, autocommit=True)

    def _bootstrap(self) -> None:
        user = self.spec.username.replace("'", "''")
        password = self.password.replace("'", "''")
        with self._local(self.primary) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION")
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.spec.dbname.replace('`', '``')}`")

    def _start_replica(self, node: MyNode) -> None:
        self._launch(node)
        ca = str(self.tls / "ca.pem").replace("'", "''")
        with self._local(node) as conn, conn.cursor() as cur:
            cur.execute(
                f"CHANGE MASTER TO MASTER_HOST='{ports.HOST}', MASTER_PORT={self.primary.port}, "
                f"MASTER_USER='{self.spec.username.replace(chr(39), chr(39) * 2)}', "
                f"MASTER_PASSWORD='{self.password.replace(chr(39), chr(39) * 2)}', MASTER_SSL=1, "
                f"MASTER_SSL_CA='{ca}', MASTER_SSL_VERIFY_SERVER_CERT=1, MASTER_USE_GTID=slave_pos")
            cur.execute("START SLAVE")
        wait_until(lambda: self._caught_up(node), timeout=READY_TIMEOUT, what=f"mysql replica {node.name} replicating")

    def _caught_up(self, node: MyNode) -> bool:
        with self._local(node) as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SHOW SLAVE STATUS")
            row = cur.fetchone() or {}
            if row.get("Last_IO_Error") and "connect" not in str(row.get("Last_IO_Error")):
                raise StartError(f"replica {node.name}: {row['Last_IO_Error']}")
            if row.get("Slave_IO_Running") != "Yes" or row.get("Slave_SQL_Running") != "Yes":
                return False
            cur.execute("SHOW DATABASES LIKE %s", (self.spec.dbname,))
            return cur.fetchone() is not None


def describe(port: int, creds: dict[str, Any], ca: str | None) -> dict[str, Any]:
    """Health and replication state of one node, for `local status`."""
    conn = pymysql.connect(host=ports.HOST, port=port, user=creds.get("username"), password=creds.get("password"),
                           ssl={"ca": ca} if ca else None, connect_timeout=3)
    with conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SHOW SLAVE STATUS")
        row = cur.fetchone()
        if not row:
            cur.execute("SHOW SLAVE HOSTS")
            return {"role": "primary", "replication": f"{len(cur.fetchall())} replica(s)"}
        running = row.get("Slave_IO_Running") == "Yes" and row.get("Slave_SQL_Running") == "Yes"
        return {"role": "replica", "replication": "replicating" if running else "stopped",
                "lag_s": float(row.get("Seconds_Behind_Master") or 0)}
