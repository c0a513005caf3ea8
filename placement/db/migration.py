"""Schema migrations (alembic) and the lock that makes concurrent
``sync_on_startup`` from several workers safe."""

import contextlib
import fcntl
import os
import zlib

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
import sqlalchemy as sa

from placement.db import api as db_api

_LOCK_NAME = 'placement_schema_sync'
_PG_LOCK_KEY = zlib.crc32(_LOCK_NAME.encode())


def _alembic_config(connection=None):
    path = os.path.join(os.path.dirname(__file__), 'alembic.ini')
    config = alembic_config.Config(path)
    config.set_main_option(
        'script_location',
        os.path.join(os.path.dirname(__file__), 'migrations'))
    if connection is not None:
        config.attributes['connection'] = connection
    return config


@contextlib.contextmanager
def schema_lock(engine):
    """Serialise schema changes across processes and hosts.

    MySQL/MariaDB and PostgreSQL use a server-side named/advisory lock (held
    by a dedicated connection); SQLite, which only serves one host, uses an
    flock on a file beside the database.
    """
    dialect = engine.dialect.name
    if dialect == 'postgresql':
        with engine.connect() as conn:
            conn.execute(sa.text('SELECT pg_advisory_lock(:k)'),
                         {'k': _PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text('SELECT pg_advisory_unlock(:k)'),
                             {'k': _PG_LOCK_KEY})
                conn.commit()
    elif dialect == 'mysql':
        with engine.connect() as conn:
            conn.execute(sa.text('SELECT GET_LOCK(:n, 600)'),
                         {'n': _LOCK_NAME})
            try:
                yield
            finally:
                conn.execute(sa.text('SELECT RELEASE_LOCK(:n)'),
                             {'n': _LOCK_NAME})
    else:
        database = engine.url.database
        if not database or database == ':memory:':
            yield
            return
        with open(database + '.schema-lock', 'a') as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def upgrade_locked(engine, revision='head'):
    """Migrate the schema; the caller holds ``schema_lock``."""
    with engine.begin() as conn:
        alembic_command.upgrade(_alembic_config(conn), revision)


def upgrade(revision='head', engine=None):
    """Migrate the schema to ``revision`` under the schema lock."""
    engine = engine or db_api.get_engine()
    with schema_lock(engine):
        upgrade_locked(engine, revision)


def stamp(revision, engine=None):
    engine = engine or db_api.get_engine()
    with schema_lock(engine):
        with engine.begin() as conn:
            alembic_command.stamp(_alembic_config(conn), revision)


def version(engine=None):
    """The current schema revision, or None for an unmigrated database."""
    engine = engine or db_api.get_engine()
    with engine.connect() as conn:
        context = alembic_migration.MigrationContext.configure(conn)
        return context.get_current_revision()


def head():
    from alembic import script
    return script.ScriptDirectory.from_config(_alembic_config()).get_current_head()
