"""Database access: the enginefacade transaction context and helpers that
every object module shares."""

from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

# The single transaction context of the process. Tests swap its engine with
# ``context_manager.patch_engine``.
context_manager = enginefacade.transaction_context()

_DB_OPTIONS = (
    'connection', 'slave_connection', 'connection_parameters',
    'sqlite_synchronous', 'mysql_sql_mode', 'connection_recycle_time',
    'max_pool_size', 'max_retries', 'retry_interval', 'max_overflow',
    'connection_debug', 'connection_trace', 'pool_timeout',
)


def configure(conf):
    """Configure the engine from ``[placement_database]``."""
    db_conf = conf.placement_database
    options = {name: getattr(db_conf, name) for name in _DB_OPTIONS}
    options = {k: v for k, v in options.items() if v is not None}
    context_manager.configure(sqlite_fk=False, **options)


def get_engine():
    return context_manager.writer.get_engine()


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
