"""Hand-written statements for the hot write paths.

They run through SQLAlchemy's ``exec_driver_sql``: nothing is compiled
per call, and oslo.db's error filters still turn deadlocks and duplicate
keys into ``DBDeadlock`` / ``DBDuplicateEntry``. Statements are written
with ``%s`` placeholders (psycopg2 and PyMySQL); SQLite gets ``?``.
"""

import contextlib
import itertools
import re

from oslo_utils import timeutils
import sqlalchemy as sa

_SQLITE = {}


def connection(ctx):
    """The Connection of the caller's transaction."""
    return ctx.session.connection()


def marks(count):
    """``%s, %s, ...`` for an IN list of ``count`` values."""
    return ', '.join(['%s'] * count)


def execute(conn, sql, params=()):
    """Run ``sql`` with positional ``params``; the CursorResult."""
    if conn.dialect.name == 'sqlite':
        text = _SQLITE.get(sql)
        if text is None:
            text = _SQLITE[sql] = sql.replace('%s', '?')
        sql = text
    return conn.exec_driver_sql(sql, tuple(params))


# Statements prepared on a PostgreSQL connection by execute_prepared, in
# the pooled connection's info (they live as long as it).
_PREPARED = 'placement_prepared_by_name'


def execute_prepared(ctx, conn, name, sql, params=()):
    """``execute``, but on PostgreSQL as statement ``name`` prepared once
    per connection: a statement that recurs on a hot read path is then
    planned once (planning a join of a few tables costs PostgreSQL as
    much as running it), not on every request. Unless
    ``[placement_database] prepared_statements`` is off."""
    if (conn.dialect.name != 'postgresql' or
            not ctx.config.placement_database.prepared_statements):
        return execute(conn, sql, params)
    prepared = conn.connection.info.setdefault(_PREPARED, set())
    if name not in prepared:
        numbers = itertools.count(1)
        execute(conn, 'PREPARE %s AS %s' % (
            name, re.sub('%s', lambda _m: '$%d' % next(numbers), sql)))
        prepared.add(name)
    return execute(conn, 'EXECUTE %s (%s)' % (name, marks(len(params))),
                   params)


# libpq's PQTRANS_IDLE: connected, no transaction begun.
_PG_IDLE = 0
# In a pooled connection's info while before_transaction has it in
# autocommit.
_AUTOCOMMIT = 'placement_autocommit'


def _psycopg2(dbapi_connection):
    return type(dbapi_connection).__module__.startswith('psycopg2')


@contextlib.contextmanager
def before_transaction(conn):
    """Run the statements inside as autocommit reads when nothing of the
    transaction has reached the server yet, on PostgreSQL: psycopg2
    would send a BEGIN before them and a ROLLBACK (or COMMIT) at the
    end, two round trips, for reads that see exactly what they would in
    the transaction (READ COMMITTED: each statement reads the latest
    commits). The transaction proper begins with the next statement.
    Elsewhere, or once the transaction has begun, a no-op."""
    dbapi = conn.connection.dbapi_connection
    if not (conn.dialect.name == 'postgresql' and _psycopg2(dbapi) and
            not dbapi.autocommit and
            dbapi.info.transaction_status == _PG_IDLE):
        yield
        return
    info = conn.connection.info
    info[_AUTOCOMMIT] = True
    dbapi.autocommit = True
    try:
        yield
    finally:
        if not dbapi.closed:
            dbapi.autocommit = False
        info.pop(_AUTOCOMMIT, None)


@sa.event.listens_for(sa.pool.Pool, 'checkin')
def _never_pooled_in_autocommit(dbapi_connection, record):
    """A connection before_transaction put in autocommit goes back to the
    pool in transactions again, whatever happened."""
    if record.info.pop(_AUTOCOMMIT, False) and (
            dbapi_connection is not None and not dbapi_connection.closed):
        dbapi_connection.autocommit = False


def read_committed(conn):
    """As a writer transaction's first statement: READ COMMITTED for that
    one transaction on MySQL/MariaDB (PostgreSQL's default level; SQLite
    serialises writers). Every read then sees the latest commits, and
    locking reads lock the rows they read, no gaps between them."""
    if conn.dialect.name == 'mysql':
        execute(conn, 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED')


def for_update(conn, read=False):
    """The row-lock suffix of a SELECT (none on SQLite, whose writers are
    serialised by the database lock)."""
    name = conn.dialect.name
    if name == 'sqlite':
        return ''
    if read:
        return ' LOCK IN SHARE MODE' if name == 'mysql' else ' FOR SHARE'
    return ' FOR UPDATE'


def now(conn):
    """``created_at`` / ``updated_at`` value, in whole seconds (what
    MySQL's DATETIME keeps, and all HTTP dates show), as SQLAlchemy would
    store it (SQLite keeps DATETIME as text)."""
    value = timeutils.utcnow().replace(microsecond=0)
    if conn.dialect.name == 'sqlite':
        return value.strftime('%Y-%m-%d %H:%M:%S.%f')
    return value


_IGNORE = {'postgresql': ('INSERT INTO ', ' ON CONFLICT DO NOTHING'),
           'mysql': ('INSERT IGNORE INTO ', ''),
           'sqlite': ('INSERT OR IGNORE INTO ', '')}


def insert_ignore(conn, table, columns, rows):
    """INSERT ``rows`` (tuples of ``columns`` values; ``created_at`` is
    added) into ``table`` in one statement, skipping rows that collide
    with a unique key (race-free, unlike read-then-insert)."""
    insert_ignore_each(conn, [(table, columns, rows)])


def insert_ignore_each(conn, inserts):
    """``insert_ignore`` for each (table, columns, rows) of ``inserts``:
    one statement on PostgreSQL (the others as data-modifying WITH
    queries, which run to completion whether or not anything reads
    them), one per table elsewhere."""
    prefix, suffix = _IGNORE[conn.dialect.name]
    created = now(conn)
    statements, params = [], []
    for table, columns, rows in inserts:
        if not rows:
            continue
        one = '(' + marks(len(columns) + 1) + ')'
        statements.append(
            prefix + table + ' (' + ', '.join(columns) + ', created_at) '
            'VALUES ' + ', '.join([one] * len(rows)) + suffix)
        params.append([v for row in rows for v in tuple(row) + (created,)])
    if conn.dialect.name == 'postgresql' and len(statements) > 1:
        statements = ['WITH ' + ', '.join(
            'i%d AS (%s)' % (n, statement)
            for n, statement in enumerate(statements[:-1])) + ' ' +
            statements[-1]]
        params = [[v for group in params for v in group]]
    for statement, values in zip(statements, params):
        execute(conn, statement, values)
