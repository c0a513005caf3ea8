"""sql.before_transaction on every backend: reads before the transaction
proper save PostgreSQL's BEGIN and ROLLBACK, and never leave a write
outside a transaction."""

import contextlib
import uuid

from oslo_db import exception as db_exc
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql
from placement.tests import fixtures


class _BeforeTransaction(object):

    def dbapi(self, conn):
        return conn.connection.dbapi_connection

    def autocommit(self, conn):
        # (PyMySQL's autocommit is a method.)
        return getattr(self.dbapi(conn), 'autocommit', False) is True

    def providers(self):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(models.RP.c.uuid)).scalars().all()

    def test_reads_before_the_transaction_then_writes_inside_one(self):
        rp_uuid = str(uuid.uuid4())
        seen = []

        @db_api.context_manager.writer
        def write(ctx):
            conn = sql.connection(ctx)
            with sql.before_transaction(conn):
                seen.append(self.autocommit(conn))
                sql.execute(conn, 'SELECT COUNT(*) FROM resource_providers')
            seen.append(self.autocommit(conn))
            sql.execute(
                conn, 'INSERT INTO resource_providers (uuid, name, '
                'generation, created_at) VALUES (%s, %s, 0, %s)',
                (rp_uuid, rp_uuid, sql.now(conn)))
            raise RuntimeError('after the write')

        self.assertRaises(RuntimeError, write, self.ctx)
        # PostgreSQL read in autocommit; the write was in a transaction,
        # rolled back with it.
        self.assertEqual([self.backend == 'postgresql', False], seen)
        self.assertNotIn(rp_uuid, self.providers())

    def test_once_the_transaction_has_begun_nothing_changes(self):
        seen = []

        @db_api.context_manager.writer
        def write(ctx):
            conn = sql.connection(ctx)
            sql.execute(conn, 'SELECT 1')
            with sql.before_transaction(conn):
                seen.append(self.autocommit(conn))

        write(self.ctx)
        self.assertEqual([False], seen)

    def test_a_failed_read_leaves_the_connection_in_transactions(self):
        @db_api.context_manager.reader
        def read(ctx):
            conn = sql.connection(ctx)
            try:
                with sql.before_transaction(conn):
                    sql.execute(conn, 'SELECT no_such_column FROM '
                                'resource_providers')
            except (db_exc.DBError, sa.exc.DBAPIError):
                pass
            return self.autocommit(conn)

        self.assertFalse(read(self.ctx))

    def test_the_pool_never_hands_out_an_autocommit_connection(self):
        conn = self.db.engine.connect()
        dbapi = self.dbapi(conn)
        if sql._psycopg2(dbapi):
            # As if before_transaction had not got to its finally.
            conn.connection.info[sql._AUTOCOMMIT] = True
            dbapi.autocommit = True
        conn.close()
        self.assertIsNot(True, getattr(dbapi, 'autocommit', False))


class _ExecutePrepared(object):

    def recorded(self):
        """The statements of the rest of the test."""
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        return stack.enter_context(fixtures.recorded_statements())

    def test_prepared_once_per_connection_and_rows_keep_their_names(self):
        rp_uuid, rp_id = self.db.insert_provider()
        seen = self.recorded()

        @db_api.context_manager.reader
        def read(ctx, uuid):
            return sql.execute_prepared(
                ctx, sql.connection(ctx), 'placement_test_provider',
                'SELECT id, generation FROM resource_providers '
                'WHERE uuid = %s AND generation >= %s', (uuid, 0)).all()

        for _ in range(3):
            rows = read(self.ctx, rp_uuid)
            self.assertEqual([(rp_id, 0)], [(r.id, r.generation)
                                            for r in rows])
        self.assertEqual([], read(self.ctx, str(uuid.uuid4())))
        if self.backend == 'postgresql':
            # (The pool may hand out another connection, which prepares
            # it once too.)
            self.assertIn(seen.count('PREPARE'), (1, 2))
            self.assertEqual(4, seen.count('EXECUTE'))
        else:
            self.assertEqual(['SELECT'] * 4, seen)

    def test_not_prepared_when_turned_off(self):
        self.conf.set_override('prepared_statements', False,
                               group='placement_database')
        seen = self.recorded()

        @db_api.context_manager.reader
        def read(ctx):
            return sql.execute_prepared(
                ctx, sql.connection(ctx), 'placement_test_off',
                'SELECT COUNT(*) FROM resource_providers WHERE id > %s',
                (0,)).scalar()

        self.assertEqual(0, read(self.ctx))
        self.assertEqual(['SELECT'], seen)


fixtures.for_each_backend(globals(), _BeforeTransaction)
fixtures.for_each_backend(globals(), _ExecutePrepared)
