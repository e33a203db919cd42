"""Engine, sessions and the declarative base.

The only module that knows about dialects: SQLite gets WAL, a busy timeout and
``BEGIN IMMEDIATE`` (so concurrent writers queue instead of failing), Postgres
gets a normal pool. Everything else is portable SQLAlchemy.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Enum,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from web4os.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements: they skip the ORM's per-statement
    work where no object is loaded (the workers' hot path)."""
    return cast(Table, model.__table__)


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp in web4os is UTC."""
    return datetime.now(UTC)


def str_enum(cls: type[enum.Enum], name: str) -> Enum:
    """An enum column stored as its short string values: portable and readable in SQL."""
    return Enum(cls, name=name, native_enum=False, length=20,
                values_callable=lambda members: [str(m.value) for m in members])


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class utc_day(FunctionElement[str]):
    """``YYYY-MM-DD`` of a timestamp in UTC, as text (usage charts group by it)."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"to_char(({arg}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(next(iter(element.clauses)), **kw)
    return f"substr({arg}, 1, 10)"  # SQLite stores UTC ISO text: 'YYYY-MM-DD HH:MM:SS…'


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs (the embedded default)."""
    return make_url(url).get_backend_name() == "sqlite"


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()
WRITE_LOCK_TIMEOUT = 30.0


def _write_lock(path: str) -> threading.Lock:
    """One lock per database file per process (every engine on the file shares it)."""
    with _write_locks_guard:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


class _QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose ``BEGIN IMMEDIATE`` first waits on an in-process lock.

    Why: SQLite's own busy handler polls with sleeps that grow to 100 ms, so
    threads queued on the write lock wake late and the embedded runner crawls
    (a task ready in 1 ms could start 100 ms later). Waiting on a
    ``threading.Lock`` hands the database over the moment the writer commits.
    Other processes on the same file still meet SQLite's busy timeout.
    """

    write_lock: threading.Lock
    holds_lock = False

    def begin_immediate(self) -> None:
        if not self.write_lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
            raise sqlite3.OperationalError("database is locked")
        self.holds_lock = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self.holds_lock:
            self.holds_lock = False
            self.write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    lock = _write_lock(str(engine.url.database or ":memory:"))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        if isinstance(dbapi_conn, _QueuedWriterConnection):
            dbapi_conn.write_lock = lock
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # The embedded runner checkpoints in the background (``checkpoint``); this is
        # only the backstop, so a commit seldom has to copy the log into the database.
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if immediate and isinstance(raw, _QueuedWriterConnection):
            raw.begin_immediate()
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WAL_AUTOCHECKPOINT_PAGES = 10_000  # 40 MB of log (SQLite's default is 1,000 pages)


def checkpoint(url: str | None = None) -> int:
    """Copy SQLite's write-ahead log into the database now, off the write path.

    With SQLite's default, the commit that fills 1,000 pages of log does this
    itself while it holds the write lock, and every writer waits. The embedded
    runner's sweeper calls this every few seconds instead (a ``PASSIVE``
    checkpoint waits for no one and blocks no one). Returns the pages of log not
    yet copied (readers still use them; the next checkpoint takes them); 0 on
    other databases.
    """
    url = url or get_settings().resolved_database_url
    if not is_sqlite(url):
        return 0
    raw = get_engine(url, immediate=False).raw_connection()  # outside any transaction
    try:
        _busy, in_log, copied = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        raw.close()
    return max(0, int(in_log) - int(copied))


def _pool_args() -> dict[str, int]:
    """Pool sized to the thread count: every job thread may hold a connection at once.

    Model calls run outside transactions, so most threads hold none; ``pool_size``
    connections stay open and the overflow (closed when returned) covers bursts.
    """
    s = get_settings()
    threads = max(s.worker_concurrency, s.embedded_workers)
    return {"pool_size": s.db_pool_size, "max_overflow": threads + 8, "pool_timeout": 60,
            "pool_use_lifo": True}


def _sqlite_pool_args() -> dict[str, Any]:
    """Every job thread keeps a connection open, and the warmest one is handed out first.

    A SQLite connection caches pages; a new one (the default pool's overflow,
    opened and closed per burst) pays the connect, the pragmas and a cold cache
    each time, and the least recently used one (the default FIFO order) has the
    coldest cache. With the pool as large as the thread count and LIFO order,
    a busy embedded runner stops reconnecting.
    """
    s = get_settings()  # SQLite is the embedded runner's: its threads, not a worker's jobs
    return {"pool_size": s.embedded_workers + 4, "max_overflow": 8, "pool_timeout": 60,
            "pool_use_lifo": True}


PING_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle a while.

    The pool's own ``pre_ping`` costs a round trip on every checkout, and a job
    checks out twice per card. A connection returned under ``PING_IDLE_SECONDS``
    ago is alive but for a server restart in that second, which its first statement
    then meets as an error (a job retries; SQLAlchemy sees the disconnect and drops
    every connection older than it). One idle longer is pinged; if the ping fails,
    the whole pool is recycled, as ``pre_ping`` does. The pool hands out the most
    recently returned connection first (``pool_use_lifo``), so a busy process mostly
    gets connections that need no ping.
    """
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["web4os.idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("web4os.idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"stale pooled connection: {exc}") from exc


def get_engine(url: str | None = None, *, immediate: bool = True) -> Engine:
    """One engine per URL per process.

    On SQLite, ``immediate`` transactions take the write lock up front, so a
    read-then-write unit of work waits its turn instead of failing: a deferred one
    that read before another writer committed cannot upgrade, and WAL answers
    ``SQLITE_BUSY`` at once, without waiting out the busy timeout. Code that only
    reads and may linger (test assertions, error pages) asks for deferred ones.
    Other databases have one engine (one pool) per URL for both.
    """
    url = url or get_settings().resolved_database_url
    key = url if immediate or not is_sqlite(url) else f"{url}#deferred"
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if is_sqlite(url):
                path = make_url(url).database
                if path and path != ":memory:":
                    from pathlib import Path

                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30,
                                       "factory": _QueuedWriterConnection},
                    **_sqlite_pool_args(),
                )
                _configure_sqlite(engine, immediate=immediate)
            else:
                engine = create_engine(url, **_pool_args())
                _ping_idle_connections(engine)
            _engines[key] = engine
        return engine


def session_factory(url: str | None = None, *, immediate: bool = True) -> sessionmaker[Session]:
    """A sessionmaker bound to the engine for ``url`` (default: settings)."""
    url = url or get_settings().resolved_database_url
    key = url if immediate or not is_sqlite(url) else f"{url}#deferred"
    with _lock:
        factory = _factories.get(key)
    if factory is None:
        factory = sessionmaker(bind=get_engine(url, immediate=immediate), expire_on_commit=False)
        with _lock:
            _factories[key] = factory
    return factory


def dispose_engines() -> None:
    """Close every pooled connection (tests and forked workers call this)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()


# --- after-commit hooks: enqueue work only once the rows it needs exist -------

_AFTER_COMMIT = "web4os.after_commit"


def on_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after the session's current transaction commits; drop it on rollback."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; wait for the real commit
    callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
    for fn in callbacks:
        fn()


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_AFTER_COMMIT, None)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it fails
    (a request, a job's transaction)."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
