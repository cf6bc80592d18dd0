"""SQL workload on RDS (PostgreSQL through psycopg 3, MySQL through PyMySQL): schema, bulk load, CRUD,
transactions and a read/write split, each verified by reading back what it wrote.

Read/write split: a read goes to a replica unless the caller needs its own writes (read_your_writes) or every
replica's measured lag is above `max_lag_s`; then it goes to the writer. Lag is measured on the replica, not
guessed: PostgreSQL compares the replica's replayed LSN with the writer's, and when it is behind takes the age
of the last replayed commit (an upper bound on how stale a read can be); MySQL reads Seconds_Behind_Source.

Retries: a transient connection error (dropped connection, failover, admin shutdown, serialization failure)
re-runs the whole transaction with jittered backoff, a bounded number of times. A commit whose acknowledgement
was lost may have landed, so every write here is idempotent (upserts, client-made order ids).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from cdk_data_tier.app.data import Product, products
from cdk_data_tier.app.endpoints import DatabaseEndpoints, Endpoints, EndpointsError, HostPort
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.rereading import Rereading
from cdk_data_tier.app.retry import Backoff, retry_call

T = TypeVar("T")
W = "sql"

COLUMNS = ("sku", "name", "brand", "category", "subcategory", "price", "currency", "stock", "rating",
           "review_count", "color", "weight_grams", "tags", "created_at", "description")
# Types of COPY ... (FORMAT BINARY): the server skips parsing text numbers and dates.
PG_COPY_TYPES = ("text", "text", "text", "text", "text", "numeric", "text", "int4", "numeric", "int4", "text",
                 "int4", "text", "date", "text")


class SqlError(Exception):
    pass


class Unreachable(EndpointsError):
    """The database does not answer: bad input for the CLI (exit 2), not a workload failure."""


class NotBootstrapped(EndpointsError):
    """The app schema or the app user is not there yet: the operator's one-time bootstrap has not run."""


BOOTSTRAP_HINT = "run `python -m app_code ops bootstrap-db` (as the admin, once) first"


class OutOfStock(Exception):
    pass


def row_of(p: Product) -> tuple:
    return (p.sku, p.name, p.brand, p.category, p.subcategory, p.price, p.currency, p.stock, p.rating,
            p.review_count, p.color, p.weight_grams, ",".join(p.tags), p.created_at, p.description)


@dataclass(frozen=True)
class SqlSettings:
    max_lag_s: float = 1.0
    lag_probe_interval_s: float = 0.2  # how long one lag measurement is trusted
    pool_min: int = 1
    pool_max: int = 4
    sslmode: str | None = None  # default: verify-full when a CA bundle is given, else require
    ca_bundle: str | None = None  # RDS: the regional/global bundle; the twin: its ca.pem
    connect_timeout: int = 5
    backoff: Backoff = Backoff(attempts=5, base=0.1, cap=2.0, deadline=30.0)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    dbname: str
    source: str = ""  # the secret they came from, named when the server refuses them

    @classmethod
    def from_secret(cls, secret: dict[str, Any], dbname: str, arn: str) -> Credentials:
        missing = [k for k in ("username", "password") if not secret.get(k)]
        if missing:
            raise EndpointsError(f"secret {arn} has no {', '.join(missing)}")
        return cls(secret["username"], secret["password"], dbname or secret.get("dbname", ""), arn)


Login = Callable[[], Credentials]


def app_login(endpoints: Endpoints) -> tuple[Credentials, Login]:
    """The application user's credentials now, and how to read them again (AppSecretArn, never SecretArn).

    Multi-user rotation alternates the user between `<app_username>` and `<app_username>_clone`, so a new
    connection needs both the username and the password of the secret's current version."""
    db = endpoints.database
    arn = db.app_login_arn

    def read() -> Credentials:
        return Credentials.from_secret(endpoints.secret(arn), db.database_name, arn)

    return read(), read


# --- engines -----------------------------------------------------------------------------------------------

class Dialect(Protocol):
    """What differs between PostgreSQL and MySQL; both drivers take %s parameters, so queries are shared."""

    family: str
    products: str
    orders: str
    drill_keys: str
    drill_effects: str

    def login_powers(self, conn) -> tuple[str, list[str]]: ...
    def upsert_product(self) -> str: ...
    def bulk_load(self, conn, rows: Sequence[tuple], advance: Callable[[int], None] | None) -> None: ...
    def transient(self, exc: BaseException) -> bool: ...
    def pool(self, endpoint: HostPort, creds: Credentials, settings: SqlSettings, name: str,
             login: Login | None = None) -> Pool: ...
    def measure_lag(self, writer: Pool, replica: Pool, engine: str) -> float: ...
    def position(self, writer: Pool) -> Any: ...
    def caught_up(self, replica: Pool, position: Any) -> bool: ...


class Pool(Protocol):
    name: str

    def connection(self): ...  # context manager: a transaction, committed on success, rolled back on error
    def open(self, timeout: float) -> None: ...
    def close(self) -> None: ...


class PgPool(Pool):
    def __init__(self, conninfo: str, settings: SqlSettings, name: str, login: Login | None = None):
        from psycopg_pool import ConnectionPool

        self.name, self.conninfo = name, conninfo
        # A login source is asked on every new connection (after a rotation: the other user, its new password).
        self.kwargs: Callable[[], dict[str, Any]] = _login_kwargs(login) if login else dict
        # check= validates a connection on checkout, so a pool outlives a failover or a server restart.
        self.pool = ConnectionPool(conninfo, kwargs=self.kwargs, min_size=settings.pool_min,
                                   max_size=settings.pool_max, open=False,
                                   name=name, check=ConnectionPool.check_connection,
                                   timeout=settings.connect_timeout * 2,
                                   reconnect_timeout=settings.backoff.deadline)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        from psycopg_pool import PoolTimeout

        with ExitStack() as checkout:
            try:
                conn = checkout.enter_context(self.pool.connection())
            except PoolTimeout as exc:  # only the checkout: errors of the transaction itself pass untouched
                raise self._reason(exc) from exc
            yield conn

    def _reason(self, timeout: Exception) -> Exception:
        """The pool only says it timed out; one direct attempt says why (a refused port, a changed password)."""
        import psycopg

        try:
            psycopg.connect(self.conninfo, **self.kwargs()).close()
        except psycopg.OperationalError as exc:
            return exc
        return timeout  # the server answers: the pool was only busy

    def open(self, timeout: float) -> None:
        import psycopg

        # One direct attempt first: a refused port, a foreign CA or a wrong password fails at once and with its
        # reason, where the pool would retry quietly until its timeout and then only say that it timed out.
        with psycopg.connect(self.conninfo, **self.kwargs()):
            pass
        self.pool.open(wait=True, timeout=timeout)

    def close(self) -> None:
        self.pool.close()


class Postgres(Dialect):
    family = "postgres"
    products = "catalog.products"
    orders = "catalog.orders"
    drill_keys = "catalog.drill_idempotency"  # the failover drills' idempotency keys and effects
    drill_effects = "catalog.drill_effects"

    def login_powers(self, conn) -> tuple[str, list[str]]:
        """Who this connection is, and what it may do beyond DML (nothing, for the app user)."""
        user, *flags, creatable, owned = query(conn, """SELECT current_user, rolsuper, rolcreaterole, rolcreatedb,
            rolreplication, rolbypassrls, has_database_privilege(current_database(), 'CREATE'),
            (SELECT string_agg(nspname, ', ' ORDER BY nspname) FROM pg_namespace
             WHERE has_schema_privilege(oid, 'CREATE') AND nspname !~ '^pg_(toast_)?temp_'),
            (SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY 1) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE pg_has_role(c.relowner, 'MEMBER') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast_)?temp_')
            FROM pg_roles WHERE rolname = current_user""")[0]
        names = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS", "CREATE on the database")
        powers = [name for name, held in zip(names, flags, strict=True) if held]
        return user, powers + ([f"CREATE on schema {creatable}"] if creatable else []) + \
            ([f"owns {owned}"] if owned else [])

    def upsert_product(self) -> str:
        cols = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
        return (f"INSERT INTO {self.products} ({cols}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
                f"ON CONFLICT (sku) DO UPDATE SET {updates}, updated_at = now()")

    def bulk_load(self, conn, rows: Sequence[tuple], advance: Callable[[int], None] | None) -> None:
        with conn.cursor() as cur, cur.copy(
                f"COPY {self.products} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(PG_COPY_TYPES))
            for n, row in enumerate(rows, 1):
                copy.write_row(row)
                if advance and n % 1000 == 0:
                    advance(1000)
        if advance:
            advance(len(rows) % 1000)

    def transient(self, exc: BaseException) -> bool:
        import psycopg
        from psycopg import errors

        # OperationalError covers lost connections, 57P01 admin shutdown (failover), 08xxx and pool timeouts;
        # a writer that became read-only (25006) is an endpoint that has not yet moved after a failover.
        return isinstance(exc, psycopg.OperationalError | errors.SerializationFailure | errors.DeadlockDetected
                          | errors.ReadOnlySqlTransaction)

    def pool(self, endpoint: HostPort, creds: Credentials, settings: SqlSettings, name: str,
             login: Login | None = None) -> Pool:
        from psycopg.conninfo import make_conninfo

        sslmode = settings.sslmode or ("verify-full" if settings.ca_bundle else "require")
        extra = {"sslrootcert": settings.ca_bundle} if settings.ca_bundle else {}
        if login is None:
            extra["password"] = creds.password
        conninfo = make_conninfo(host=endpoint.host, port=endpoint.port, user=creds.username,
                                 dbname=creds.dbname, sslmode=sslmode,
                                 connect_timeout=settings.connect_timeout, application_name=f"app_code-{name}", **extra)
        return PgPool(conninfo, settings, name, login)

    def position(self, writer: Pool) -> Any:
        # The insert position, not pg_current_wal_lsn(): with asynchronous commit a committed transaction's
        # record can still sit in the WAL buffers, beyond the write position.
        with writer.connection() as conn:
            return conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]

    def caught_up(self, replica: Pool, position: Any) -> bool:
        with replica.connection() as conn:
            row = conn.execute("SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= %s::pg_lsn",
                               (position,)).fetchone()
            return bool(row[0])

    def measure_lag(self, writer: Pool, replica: Pool, engine: str) -> float:
        if engine.startswith("aurora"):
            # Aurora readers share the writer's storage and do not replay WAL: ask the cluster's own view.
            with replica.connection() as conn:
                row = conn.execute("SELECT max(replica_lag_in_msec) FROM aurora_replica_status() "
                                   "WHERE server_id = aurora_db_instance_identifier()").fetchone()
                return (row[0] or 0) / 1000.0
        position = self.position(writer)  # first, so caught-up means "has everything committed before now"
        with replica.connection() as conn:
            recovering, caught_up, age = conn.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn, "
                "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8", (position,)).fetchone()
        if not recovering or caught_up:
            return 0.0
        return float("inf") if age is None else max(0.0, age)


class MyPool(Pool):
    """PyMySQL has no pool: a small thread-safe one that pings on checkout and replaces dead connections."""

    def __init__(self, kwargs: dict[str, Any], settings: SqlSettings, name: str, login: Login | None = None):
        import queue

        self.name, self.kwargs, self.settings = name, kwargs, settings
        self.login: Callable[[], dict[str, Any]] = _login_kwargs(login) if login else dict
        self.idle: queue.LifoQueue = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(settings.pool_max)

    @staticmethod
    def _alive(conn: Any) -> bool:
        """An idle connection the server has dropped is closed here, and the caller opens a new one."""
        try:
            conn.ping(reconnect=False)
            return True
        except Exception:
            try:
                conn.close()
            except Exception:  # already closed by the failed ping: nothing left to release
                pass
            return False

    def _connect(self):
        import pymysql

        return pymysql.connect(**{**self.kwargs, **self.login()})

    @contextmanager
    def connection(self) -> Iterator[Any]:
        import queue

        if not self.slots.acquire(timeout=self.settings.connect_timeout * 2):
            import pymysql

            raise pymysql.err.OperationalError(2003, f"pool {self.name} exhausted")
        conn = None
        try:
            try:
                idle = self.idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            else:
                conn = idle if self._alive(idle) else self._connect()
            conn.begin()
            yield conn
            conn.commit()
            self.idle.put(conn)
        except BaseException:
            if conn is not None:
                try:
                    conn.rollback()
                    self.idle.put(conn)
                except Exception:
                    conn.close()
            raise
        finally:
            self.slots.release()

    def open(self, timeout: float) -> None:
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


class MySql(Dialect):
    family = "mysql"
    products = "products"
    orders = "orders"
    drill_keys = "drill_idempotency"
    drill_effects = "drill_effects"
    BATCH = 500  # rows per INSERT: well under max_allowed_packet for the catalog's rows

    # What the app user holds on MySQL: DML on its database, and reading replication state (the read/write
    # split measures lag with SHOW REPLICA STATUS); MariaDB names the latter BINLOG MONITOR and SLAVE MONITOR.
    APP_PRIVILEGES = frozenset({"USAGE", "SELECT", "INSERT", "UPDATE", "DELETE", "REPLICATION CLIENT",
                                "BINLOG MONITOR", "SLAVE MONITOR", "REPLICA MONITOR"})

    def login_powers(self, conn) -> tuple[str, list[str]]:
        """Who this connection is, and what its grants hold beyond DML (nothing, for the app user)."""
        user = query(conn, "SELECT CURRENT_USER()")[0][0]
        extra: list[str] = []
        for (grant,) in query(conn, "SHOW GRANTS"):
            privileges, on, rest = grant.removeprefix("GRANT ").partition(" ON ")
            if not on:
                extra.append(f"role {privileges.split(' TO ')[0]}")
                continue
            scope = rest.split(" TO ")[0]
            extra += [f"{p} ON {scope}" for p in (x.strip() for x in privileges.split(","))
                      if p.upper() not in self.APP_PRIVILEGES]
            if "WITH GRANT OPTION" in rest:
                extra.append(f"GRANT OPTION ON {scope}")
        return user, extra

    def upsert_product(self) -> str:
        cols = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = VALUES({c})" for c in COLUMNS[1:])
        return (f"INSERT INTO {self.products} ({cols}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
                f"ON DUPLICATE KEY UPDATE {updates}")

    def bulk_load(self, conn, rows: Sequence[tuple], advance: Callable[[int], None] | None) -> None:
        one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        with conn.cursor() as cur:
            for start in range(0, len(rows), self.BATCH):
                batch = rows[start:start + self.BATCH]
                cur.execute(f"INSERT INTO {self.products} ({', '.join(COLUMNS)}) VALUES "
                            + ", ".join([one] * len(batch)), [v for row in batch for v in row])
                if advance:
                    advance(len(batch))

    def transient(self, exc: BaseException) -> bool:
        import pymysql

        # 2003/2006/2013: cannot connect, gone away, lost during query; 1213 deadlock; 1205 lock wait timeout;
        # 1290/1836 read-only (a writer endpoint still pointing at the old primary after failover).
        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        return isinstance(exc, pymysql.err.OperationalError | pymysql.err.InternalError) and \
            bool(exc.args) and exc.args[0] in (2003, 2006, 2013, 1213, 1205, 1290, 1836)

    def pool(self, endpoint: HostPort, creds: Credentials, settings: SqlSettings, name: str,
             login: Login | None = None) -> Pool:
        verify = bool(settings.ca_bundle)
        ssl: dict[str, Any] = {"ssl_verify_cert": verify, "ssl_verify_identity": verify}
        if settings.ca_bundle:
            ssl["ssl_ca"] = settings.ca_bundle
        else:
            ssl["ssl"] = {}  # TLS without a trust store to check against: encrypted, like sslmode=require
        kwargs = dict(host=endpoint.host, port=endpoint.port, user=creds.username, database=creds.dbname,
                      connect_timeout=settings.connect_timeout, autocommit=False, charset="utf8mb4", **ssl,
                      **({} if login else {"password": creds.password}))
        return MyPool(kwargs, settings, name, login)

    def position(self, writer: Pool) -> Any:
        """The writer's binlog coordinates; without a binlog (Aurora, or backups off), a fingerprint of the data."""
        import pymysql

        with writer.connection() as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
            status = _first_status(cur, "SHOW BINARY LOG STATUS", "SHOW MASTER STATUS")
            if status:
                return ("binlog", status["File"], int(status["Position"]))
            cur.execute(f"SELECT COUNT(*) AS n, COALESCE(SUM(stock), 0) AS s FROM {self.products}")
            return ("data", *cur.fetchone().values())

    def caught_up(self, replica: Pool, position: Any) -> bool:
        import pymysql

        with replica.connection() as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
            if position[0] == "data":
                cur.execute(f"SELECT COUNT(*) AS n, COALESCE(SUM(stock), 0) AS s FROM {self.products}")
                return ("data", *cur.fetchone().values()) == position
            status = _first_status(cur, "SHOW REPLICA STATUS", "SHOW SLAVE STATUS")
        if not status:
            return True  # promoted, not a replica any more
        executed = (status.get("Relay_Source_Log_File") or status.get("Relay_Master_Log_File"),
                    int(status.get("Exec_Source_Log_Pos") or status.get("Exec_Master_Log_Pos") or 0))
        return executed >= position[1:]

    def measure_lag(self, writer: Pool, replica: Pool, engine: str) -> float:
        import pymysql

        with replica.connection() as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
            lag = _aurora_lag(cur) if engine.startswith("aurora") else None
            if lag is not None:
                return lag
            status = _first_status(cur, "SHOW REPLICA STATUS", "SHOW SLAVE STATUS")
        if not status:
            return 0.0  # not a replica (promoted): as fresh as the writer
        behind = status.get("Seconds_Behind_Source", status.get("Seconds_Behind_Master"))
        return float("inf") if behind is None else float(behind)


ER_UNKNOWN_TABLE = 1109


def _aurora_lag(cur) -> float | None:
    """Aurora MySQL's own view of its readers' lag (they share the writer's storage and replay no binlog).

    None on a server without that view: a binlog replica standing in for an Aurora reader (the local twin's
    MariaDB), whose replica status then says how far behind it is."""
    import pymysql

    try:
        cur.execute("SELECT MAX(REPLICA_LAG_IN_MILLISECONDS) AS lag FROM information_schema.REPLICA_HOST_STATUS")
    except pymysql.err.OperationalError as err:
        if err.args[0] != ER_UNKNOWN_TABLE:
            raise
        return None
    return float((cur.fetchone() or {}).get("lag") or 0) / 1000.0


def _first_status(cur, *statements: str) -> dict[str, Any] | None:
    """The first statement this server knows (names changed across MySQL 8.0.22, 8.4 and MariaDB)."""
    import pymysql

    for statement in statements:
        try:
            cur.execute(statement)
        except (pymysql.err.ProgrammingError, pymysql.err.OperationalError):
            continue
        return cur.fetchone()
    return None


def dialect_for(engine: str) -> Dialect:
    return MySql() if engine.endswith("mysql") else Postgres()


# --- the client: pools, routing, retried transactions --------------------------------------------------------

@dataclass
class Routing:
    counts: Counter = field(default_factory=Counter)
    last_lag: dict[str, float] = field(default_factory=dict)
    retries: int = 0


class SqlClient:
    def __init__(self, db: DatabaseEndpoints, creds: Credentials, settings: SqlSettings = SqlSettings(),
                 login: Login | None = None):
        """login: asked on every new connection instead of creds (credentials that rotate)."""
        self.db, self.creds, self.settings = db, creds, settings
        self.dialect = dialect_for(db.engine)
        self.writer = self.dialect.pool(db.writer, creds, settings, "writer", login)
        self.readers = [self.dialect.pool(r, creds, settings, f"replica{i}", login)
                        for i, r in enumerate(db.readers, 1)]
        self.routing = Routing()
        self._lag_cache: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._next = 0

    @classmethod
    def from_endpoints(cls, endpoints: Endpoints, settings: SqlSettings | None = None) -> SqlClient:
        """A client that logs in as the application user (AppSecretArn), never as the admin."""
        settings = settings or SqlSettings(ca_bundle=endpoints.aws.ca_bundle)
        creds, read = app_login(endpoints)  # now: a missing or malformed secret is an error before any connection
        # The app user's secret rotates (multi-user): connections opened later read it again.
        return cls(endpoints.database, creds, settings, Rereading(creds, read))

    def open(self) -> SqlClient:
        for pool, where in [(self.writer, self.db.writer), *zip(self.readers, self.db.readers, strict=True)]:
            try:
                pool.open(timeout=self.settings.connect_timeout * 2)
            except Exception as exc:
                self.close()
                if login_refused(exc):
                    source = f" from secret {self.creds.source}" if self.creds.source else ""
                    raise Unreachable(f"database {pool.name} at {where} refused the login of {self.creds.username!r}"
                                      f"{source}: {server_reason(exc)}; if the app user does not exist yet, "
                                      f"{BOOTSTRAP_HINT}") from None
                raise Unreachable(f"database {pool.name} at {where} is unreachable: {one_line(exc)}") from None
        return self

    def close(self) -> None:
        for pool in (self.writer, *self.readers):
            try:
                pool.close()
            except Exception:
                pass

    def __enter__(self) -> SqlClient:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self, fn: Callable[[Any], T], pool: Pool | None = None) -> T:
        """Run fn(conn) in one transaction; a transient error re-runs all of it (fn must be idempotent)."""
        pool = pool or self.writer

        def attempt() -> T:
            with pool.connection() as conn:
                return fn(conn)

        def count(_: int, exc: BaseException) -> None:
            self.routing.retries += 1

        return retry_call(attempt, transient=self.dialect.transient, backoff=self.settings.backoff, on_retry=count)

    write = transaction

    def replica_lag(self, replica: Pool) -> float:
        now = time.monotonic()
        cached = self._lag_cache.get(replica.name)
        if cached and now - cached[1] < self.settings.lag_probe_interval_s:
            return cached[0]
        try:
            lag = self.dialect.measure_lag(self.writer, replica, self.db.engine)
        except Exception as exc:
            if not self.dialect.transient(exc):
                raise
            lag = float("inf")  # an unreachable replica is as good as an infinitely late one
        self._lag_cache[replica.name] = (lag, time.monotonic())
        self.routing.last_lag[replica.name] = lag
        return lag

    def route(self, *, read_your_writes: bool = False) -> Pool:
        if read_your_writes or not self.readers:
            return self.writer
        with self._lock:
            start, self._next = self._next, self._next + 1
        for i in range(len(self.readers)):
            replica = self.readers[(start + i) % len(self.readers)]
            if self.replica_lag(replica) <= self.settings.max_lag_s:
                return replica
        return self.writer

    def read(self, fn: Callable[[Any], T], *, read_your_writes: bool = False) -> T:
        pool = self.route(read_your_writes=read_your_writes)
        self.routing.counts[pool.name if pool is self.writer else "replica"] += 1
        return self.transaction(fn, pool)

    def wait_for_replicas(self, deadline: float = 30.0) -> float:
        """Block until every replica holds what the writer has now; returns the seconds it took."""
        start = time.monotonic()
        position = self.dialect.position(self.writer)
        for replica in self.readers:
            while not self.dialect.caught_up(replica, position):
                if time.monotonic() - start > deadline:
                    raise SqlError(f"{replica.name} did not catch up with the writer within {deadline:.0f}s")
                time.sleep(0.02)
        return time.monotonic() - start


def _login_kwargs(login: Login) -> Callable[[], dict[str, Any]]:
    """Connection arguments from a login source, asked once per new connection."""
    def kwargs() -> dict[str, Any]:
        creds = login()
        return {"user": creds.username, "password": creds.password}

    return kwargs


def login_refused(exc: BaseException) -> bool:
    """A wrong user or password (PostgreSQL SQLSTATE class 28, MySQL 1045): the server answered, the secret is off."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate and sqlstate.startswith("28"):
        return True
    if "password authentication failed" in str(exc):  # libpq reports a refused login without a SQLSTATE
        return True
    return bool(exc.args) and exc.args[0] == 1045


def server_reason(exc: BaseException) -> str:
    """The server's own words, without libpq's 'connection to server at ... failed:' preamble."""
    if len(exc.args) == 2 and isinstance(exc.args[0], int):  # PyMySQL: (error code, message)
        return str(exc.args[1])
    text = one_line(exc)
    return text.rsplit("FATAL: ", 1)[-1] if "FATAL: " in text else text


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def require_tables(client: SqlClient, *tables: str) -> None:
    """The bootstrap's tables, usable by this login (information_schema lists only those it holds a privilege
    on); NotBootstrapped naming the missing ones. The app user cannot create them itself."""
    names = [t.rpartition(".")[2] for t in tables]
    marks = ", ".join(["%s"] * len(names))
    got = client.read(lambda conn: {r[0] for r in query(
        conn, f"SELECT table_name FROM information_schema.tables WHERE table_name IN ({marks})", names)},
        read_your_writes=True)
    missing = [t for t, n in zip(tables, names, strict=True) if n not in got]
    if missing:
        raise NotBootstrapped(f"the app schema is missing {', '.join(missing)} for {client.creds.username!r} at "
                              f"{client.db.writer}: {BOOTSTRAP_HINT}")


def query(conn, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def execute(conn, sql: str, params: Sequence[Any] = ()) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


def querying(sql: str, params: Sequence[Any] = ()) -> Callable[[Any], list[tuple]]:
    """`query` as a unit of work for SqlClient.read/write (which may run it again on a retry)."""
    return lambda conn: query(conn, sql, params)


def executing(sql: str, params: Sequence[Any] = ()) -> Callable[[Any], int]:
    """`execute` as a unit of work for SqlClient.write."""
    return lambda conn: execute(conn, sql, params)


# --- the workload ---------------------------------------------------------------------------------------------

@dataclass
class SqlWorkload:
    client: SqlClient
    recorder: Recorder
    progress: Callable[[str, int], Callable[[int], None]] | None = None
    crud_rows: int = 50
    replica_reads: int = 300
    orders: int = 20

    def __post_init__(self) -> None:
        self.d = self.client.dialect
        self.run_id = uuid.uuid4().hex[:10]

    def run(self, catalog: Sequence[Product] | None = None) -> None:
        catalog = list(catalog or products())
        self.check_schema()
        self.check_login()
        self.bulk_load(catalog)
        self.crud()
        self.replica_reads_check(catalog)
        self.transactions(catalog)
        r = self.client.routing
        lags = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r.last_lag.items()) or "no replicas"
        self.recorder.note(f"sql: reads routed {dict(r.counts)}; last measured lag: {lags}; "
                           f"transactions retried: {r.retries}; max lag bound {self.client.settings.max_lag_s}s")

    def check_schema(self) -> None:
        """The tables the bootstrap made: the app user can use them, and cannot create them."""
        with self.recorder.timed(W, "schema (from the bootstrap)"):
            require_tables(self.client, self.d.products, self.d.orders)
        self.recorder.verify(W, "schema (from the bootstrap)", True, f"{self.d.products}, {self.d.orders} usable")

    def check_login(self) -> None:
        """The workload's login is the application user's: DML only, nothing an admin can do."""
        with self.recorder.timed(W, "login (least privilege)"):
            user, powers = self.client.write(self.d.login_powers)
        self.recorder.verify(W, "login (least privilege)", not powers,
                             f"as {user}: DML only (no superuser, CREATE ROLE or DDL)",
                             fail=f"as {user}: holds {'; '.join(powers)}")

    def ensure_catalog(self, catalog: Sequence[Product]) -> None:
        """Load the catalog unless the writer already holds exactly it (the cache workload's precondition)."""
        require_tables(self.client, self.d.products, self.d.orders)
        if self._writer_rows() != sorted(map(row_of, catalog)):
            self.bulk_load(catalog, op=None)

    def _writer_rows(self) -> list[tuple]:
        cols = ", ".join(COLUMNS)
        return self.client.read(lambda conn: query(conn, f"SELECT {cols} FROM {self.d.products} ORDER BY sku"),
                                read_your_writes=True)

    def bulk_load(self, catalog: Sequence[Product], op: str | None = "") -> None:
        op = f"bulk load ({'COPY' if self.d.family == 'postgres' else 'multi-row INSERT'})" if op == "" else op
        rows = [row_of(p) for p in catalog]
        advance = self.progress("sql bulk load", len(rows)) if self.progress else None

        def load(conn) -> None:
            execute(conn, f"DELETE FROM {self.d.orders}")
            execute(conn, f"DELETE FROM {self.d.products}")
            self.d.bulk_load(conn, rows, advance)

        start = time.perf_counter()
        self.client.write(load)  # one transaction: readers see the old catalog or the new one, never half
        if op:
            self.recorder.add(W, op, time.perf_counter() - start, len(rows))
        got = self._writer_rows()
        want = sorted(rows)
        ok = got == want
        if op:
            diff = sum(1 for a, b in zip(got, want, strict=False) if a != b) + abs(len(got) - len(want))
            self.recorder.verify(W, op, ok, f"{len(got)} rows read back equal" if ok
                                 else f"read back {len(got)} rows, wrote {len(want)}, {diff} differ")
        elif not ok:
            raise SqlError("the catalog read back differs from what was loaded")
        if self.client.readers and op:
            with self.recorder.timed(W, "replica catch-up"):
                waited = self.client.wait_for_replicas()
            self.recorder.verify(W, "replica catch-up", True, f"{len(self.client.readers)} replica(s), {waited:.2f}s")

    def crud(self) -> None:
        d = self.d
        base = products()[0]
        skus = [f"RUN-{self.run_id}-{i:04d}" for i in range(self.crud_rows)]
        ins_ok = sel_ok = upd_ok = del_ok = True
        for sku in skus:
            row = (sku, *row_of(base)[1:])
            with self.recorder.timed(W, "insert (upsert)"):
                self.client.write(executing(d.upsert_product(), row))
            with self.recorder.timed(W, "select by key (read-your-writes)"):
                got = self.client.read(querying(
                    f"SELECT {', '.join(COLUMNS)} FROM {d.products} WHERE sku = %s", (sku,)), read_your_writes=True)
            sel_ok &= got == [row]
            # Compare-and-set: the update applies only if the price is still the one this caller read.
            with self.recorder.timed(W, "update (compare-and-set)"):
                changed = self.client.write(executing(
                    f"UPDATE {d.products} SET price = %s, stock = stock + 1 WHERE sku = %s AND price = %s",
                    (Decimal("9.99"), sku, base.price)))
            stale = self.client.write(executing(
                f"UPDATE {d.products} SET price = %s WHERE sku = %s AND price = %s", (Decimal("1.00"), sku,
                                                                                          base.price)))
            after = self.client.read(querying(
                f"SELECT price, stock FROM {d.products} WHERE sku = %s", (sku,)), read_your_writes=True)
            upd_ok &= changed == 1 and stale == 0 and after == [(Decimal("9.99"), base.stock + 1)]
            with self.recorder.timed(W, "delete"):
                gone = self.client.write(executing(
                    f"DELETE FROM {d.products} WHERE sku = %s", (sku,)))
            left = self.client.read(querying(
                f"SELECT 1 FROM {d.products} WHERE sku = %s", (sku,)), read_your_writes=True)
            del_ok &= gone == 1 and left == []
            ins_ok &= sel_ok
        n = len(skus)
        self.recorder.verify(W, "insert (upsert)", ins_ok, f"{n} rows read back", fail="read back differs")
        self.recorder.verify(W, "select by key (read-your-writes)", sel_ok, f"{n} rows from the writer",
                             fail="read back differs")
        self.recorder.verify(W, "update (compare-and-set)", upd_ok, "stale compare refused",
                             fail="lost or double update")
        self.recorder.verify(W, "delete", del_ok, f"{n} rows gone", fail="row still there")

    def replica_reads_check(self, catalog: Sequence[Product]) -> None:
        """Random point reads through the router; after the catch-up they must equal the catalog."""
        import random

        rng = random.Random(7)
        by_sku = {p.sku: row_of(p) for p in catalog}
        picks = rng.choices(list(by_sku), k=self.replica_reads)
        before = Counter(self.client.routing.counts)
        ok = True
        for sku in picks:
            with self.recorder.timed(W, "select by key (routed)"):
                got = self.client.read(querying(
                    f"SELECT {', '.join(COLUMNS)} FROM {self.d.products} WHERE sku = %s", (sku,)))
            ok &= got == [by_sku[sku]]
        routed = self.client.routing.counts - before
        self.recorder.verify(W, "select by key (routed)", ok,
                             ", ".join(f"{n} to {k}" for k, n in sorted(routed.items())), fail="stale or wrong row")

    def place_order(self, sku: str, qty: int, order_id: str) -> int:
        """Stock and order in one transaction; an order id already placed is not placed twice on retry."""
        d = self.d

        def tx(conn) -> int:
            if query(conn, f"SELECT 1 FROM {d.orders} WHERE order_id = %s", (order_id,)):
                return query(conn, f"SELECT stock FROM {d.products} WHERE sku = %s", (sku,))[0][0]
            if execute(conn, f"UPDATE {d.products} SET stock = stock - %s WHERE sku = %s AND stock >= %s",
                       (qty, sku, qty)) != 1:
                raise OutOfStock(sku)
            execute(conn, f"INSERT INTO {d.orders} (order_id, sku, qty) VALUES (%s, %s, %s)", (order_id, sku, qty))
            return query(conn, f"SELECT stock FROM {d.products} WHERE sku = %s", (sku,))[0][0]

        return self.client.write(tx)

    def transactions(self, catalog: Sequence[Product]) -> None:
        d = self.d
        product = max(catalog, key=lambda p: p.stock)
        stock = lambda: self.client.read(  # noqa: E731
            lambda conn: query(conn, f"SELECT stock FROM {d.products} WHERE sku = %s", (product.sku,))[0][0],
            read_your_writes=True)
        start_stock = stock()
        ids = [str(uuid.uuid4()) for _ in range(self.orders)]
        for order_id in ids:
            with self.recorder.timed(W, "transaction (order)"):
                self.place_order(product.sku, 1, order_id)
        self.place_order(product.sku, 1, ids[0])  # a replayed order id changes nothing
        placed = self.client.read(lambda conn: query(
            conn, f"SELECT COUNT(*), COALESCE(SUM(qty), 0) FROM {d.orders} WHERE sku = %s", (product.sku,))[0],
            read_your_writes=True)
        now = stock()
        ok = placed == (self.orders, self.orders) and now == start_stock - self.orders
        self.recorder.verify(W, "transaction (order)", ok, f"stock {start_stock}->{now}, orders {placed[0]}")

        refused = False
        with self.recorder.timed(W, "transaction rolled back (oversell)"):
            try:
                self.place_order(product.sku, now + 1, str(uuid.uuid4()))
            except OutOfStock:
                refused = True
        count = self.client.read(lambda conn: query(
            conn, f"SELECT COUNT(*) FROM {d.orders} WHERE sku = %s", (product.sku,))[0][0], read_your_writes=True)
        ok = refused and stock() == now and count == self.orders
        self.recorder.verify(W, "transaction rolled back (oversell)", ok,
                             "refused, nothing changed" if ok else "oversold or partial write")
        # Leave the catalog as loaded, so the cache workload reads exactly the shipped data.
        self.client.write(lambda conn: (execute(conn, f"DELETE FROM {d.orders} WHERE sku = %s", (product.sku,)),
                                        execute(conn, f"UPDATE {d.products} SET stock = %s WHERE sku = %s",
                                                (start_stock, product.sku))))

