"""Database access: the enginefacade transaction context, the one retry
policy for writes, the mapping of "database unavailable" errors, and
helpers that every object module shares."""

import functools
import random
import time

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from placement import exception

LOG = logging.getLogger(__name__)

# The single transaction context of the process. Tests swap its engine with
# ``context_manager.patch_engine``.
context_manager = enginefacade.transaction_context()

_DB_OPTIONS = (
    'connection', 'slave_connection', 'connection_parameters',
    'sqlite_synchronous', 'mysql_sql_mode', 'connection_recycle_time',
    'max_pool_size', 'max_retries', 'retry_interval', 'max_overflow',
    'connection_debug', 'connection_trace', 'pool_timeout',
    'mysql_wsrep_sync_wait',
)


def configure(conf):
    """Configure the engine from ``[placement_database]``."""
    db_conf = conf.placement_database
    options = {name: getattr(db_conf, name) for name in _DB_OPTIONS}
    options = {k: v for k, v in options.items() if v is not None}
    # thread_checkin=False: no sleep(0) after every transaction. It exists
    # to let eventlet switch greenthreads; our WSGI workers are processes
    # and threads, where it only gives the CPU away once per transaction.
    context_manager.configure(sqlite_fk=False, thread_checkin=False,
                              **options)


def get_engine():
    return context_manager.writer.get_engine()


# -- retrying writes --------------------------------------------------------

# Attempts after the first for a write that lost a database-level race.
DEADLOCK_RETRIES = 10


def is_deadlock(exc):
    """True when ``exc`` means "this transaction lost a race and was rolled
    back; the same work in a new transaction may succeed": a deadlock
    (ER_LOCK_DEADLOCK 1213, which is also how a Galera certification
    failure surfaces, at COMMIT or when a replicated write aborts ours),
    a PostgreSQL deadlock, SQLite's "database is locked", or our own
    TransactionMustRestart. Looks through ``__cause__`` so a database
    error already wrapped in a domain exception still counts."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (db_exc.DBDeadlock,
                            exception.TransactionMustRestart)):
            return True
        if (isinstance(exc, (db_exc.DBError, sa_exc.OperationalError)) and
                'database is locked' in str(exc)):
            return True
        exc = exc.__cause__
    return False


def backoff(attempt):
    """Sleep a little before retry ``attempt`` (0-based): jittered and
    growing, so racers stop colliding in step, but milliseconds, not the
    seconds of oslo.db's wrap_db_retry defaults."""
    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))


def retry_on_deadlock(func):
    """Decorate a function that runs its own writer transaction(s): when
    it fails with a deadlock (see ``is_deadlock``) the whole function runs
    again, so every retry is a new transaction that re-reads everything.
    Never decorate a function that runs inside a caller's transaction."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                if attempt == DEADLOCK_RETRIES or not is_deadlock(exc):
                    raise
                LOG.debug('Retrying %s after a database race (attempt %d): '
                          '%s', func.__name__, attempt + 1, exc)
                backoff(attempt)
    return wrapper


# -- an unreachable database ------------------------------------------------

# MySQL/MariaDB errors that mean "this server cannot serve us now", beyond
# the disconnects oslo.db already reports as DBConnectionError: server
# shutdown in progress (1053), connection killed (1927), too many
# connections (1040), a Galera node that is not part of the primary
# component (1047 "WSREP has not yet prepared node for application use"),
# and a lock wait timeout (1205), which is also how a Galera causal read
# (wsrep_sync_wait) reports a node too far behind to answer in time.
_MYSQL_UNAVAILABLE = frozenset((1040, 1047, 1053, 1205, 1927, 2002, 2003,
                                2006, 2013))


def is_unavailable(exc):
    """True when ``exc`` means the database (or this connection's node of
    a cluster) is unreachable or going away, rather than a bug: the
    request should fail fast with a 503 and may be retried by the client
    (a load balancer can send it to another node)."""
    if isinstance(exc, db_exc.DBConnectionError):
        return True
    if isinstance(exc, sa_exc.TimeoutError):  # pool exhausted
        return True
    orig = getattr(getattr(exc, 'inner_exception', exc), 'orig', None)
    args = getattr(orig, 'args', None)
    if args and isinstance(args[0], int):
        return args[0] in _MYSQL_UNAVAILABLE
    if isinstance(exc, (db_exc.DBError, sa_exc.DBAPIError)):
        return getattr(getattr(exc, 'inner_exception', exc),
                       'connection_invalidated', False)
    return False


def insert_ignore_duplicates(conn, table, rows):
    """INSERT ``rows`` into ``table``, silently skipping rows that collide
    with a unique key. Safe when several processes insert the same rows at
    once (no read-then-insert race)."""
    if not rows:
        return
    # ``conn`` is a Connection or a Session.
    dialect = getattr(conn, 'dialect', None) or conn.get_bind().dialect
    dialect = dialect.name
    if dialect == 'postgresql':
        stmt = pg_dialect.insert(table).on_conflict_do_nothing()
    elif dialect == 'mysql':
        stmt = mysql_dialect.insert(table).prefix_with('IGNORE')
    elif dialect == 'sqlite':
        stmt = sqlite_dialect.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - other backends are unsupported
        stmt = sa.insert(table)
    conn.execute(stmt, list(rows))
