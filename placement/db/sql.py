"""Hand-written statements for the hot write paths.

They run through SQLAlchemy's ``exec_driver_sql``: nothing is compiled
per call, and oslo.db's error filters still turn deadlocks and duplicate
keys into ``DBDeadlock`` / ``DBDuplicateEntry``. Statements are written
with ``%s`` placeholders (psycopg2 and PyMySQL); SQLite gets ``?``.
"""

from oslo_utils import timeutils

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
    """``created_at`` / ``updated_at`` value as SQLAlchemy would store it
    (SQLite keeps DATETIME as text)."""
    value = timeutils.utcnow()
    if conn.dialect.name == 'sqlite':
        return value.strftime('%Y-%m-%d %H:%M:%S.%f')
    return value
