"""The write retry policy and the "database unavailable" mapping of
placement.db.api, and the 503 the application answers with."""

from unittest import mock

import fixtures
from oslo_db import exception as db_exc
import pymysql
from sqlalchemy import exc as sa_exc
import testtools

from placement.db import api as db_api
from placement import deploy
from placement import exception
from placement.tests import fixtures as placement_fixtures
from placement.tests.functional import base


def mysql_error(code, message='boom'):
    """A MySQL error as oslo.db hands it to us (DBError around
    SQLAlchemy's OperationalError around PyMySQL's)."""
    orig = pymysql.err.OperationalError(code, message)
    return db_exc.DBError(sa_exc.OperationalError('SELECT 1', {}, orig))


class TestClassification(testtools.TestCase):

    def test_deadlocks_and_galera_certification_failures(self):
        self.assertTrue(db_api.is_deadlock(db_exc.DBDeadlock()))
        # Already wrapped in a domain exception by db_races_as_conflict.
        try:
            with exception.db_races_as_conflict():
                raise db_exc.DBDeadlock()
        except exception.ConcurrentUpdateDetected as exc:
            self.assertTrue(db_api.is_deadlock(exc))
        self.assertTrue(db_api.is_deadlock(
            db_exc.DBError('(sqlite3.OperationalError) database is locked')))
        self.assertFalse(db_api.is_deadlock(db_exc.DBDuplicateEntry()))
        self.assertFalse(db_api.is_deadlock(ValueError()))

    def test_unavailable(self):
        self.assertTrue(db_api.is_unavailable(db_exc.DBConnectionError()))
        for code in (1047, 1053, 1205, 1927, 2013):
            self.assertTrue(db_api.is_unavailable(mysql_error(code)), code)
        self.assertFalse(db_api.is_unavailable(mysql_error(1064)))
        self.assertFalse(db_api.is_unavailable(db_exc.DBDeadlock()))
        self.assertFalse(db_api.is_unavailable(KeyError()))


class TestRetryOnDeadlock(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(db_api, 'backoff'))

    def test_retried_as_a_whole_until_it_succeeds(self):
        calls = []

        @db_api.retry_on_deadlock
        def write(value):
            calls.append(value)
            if len(calls) < 3:
                raise db_exc.DBDeadlock()
            return value * 2

        self.assertEqual(42, write(21))
        self.assertEqual([21, 21, 21], calls)

    def test_other_errors_are_not_retried(self):
        write = mock.Mock(side_effect=db_exc.DBDuplicateEntry(),
                          __name__='write')
        self.assertRaises(db_exc.DBDuplicateEntry,
                          db_api.retry_on_deadlock(write))
        self.assertEqual(1, write.call_count)

    def test_gives_up_after_the_retries(self):
        write = mock.Mock(side_effect=db_exc.DBDeadlock(), __name__='write')
        self.assertRaises(db_exc.DBDeadlock, db_api.retry_on_deadlock(write))
        self.assertEqual(db_api.DEADLOCK_RETRIES + 1, write.call_count)


class TestConfigure(testtools.TestCase):

    def test_wsrep_sync_wait_reaches_the_engine_facade(self):
        conf = self.useFixture(placement_fixtures.ConfFixture()).conf
        conf.set_override('connection', 'mysql+pymysql://u@127.0.0.1/p',
                          group='placement_database')
        conf.set_override('mysql_wsrep_sync_wait', 1,
                          group='placement_database')
        with mock.patch.object(db_api.context_manager,
                               'configure') as configure:
            db_api.configure(conf)
        self.assertEqual(1, configure.call_args.kwargs[
            'mysql_wsrep_sync_wait'])


class TestDatabaseDown(testtools.TestCase):
    """A worker whose database stops answering: JSON 503, not 500."""

    def test_unreachable_database_is_a_json_503(self):
        conf = self.useFixture(placement_fixtures.ConfFixture()).conf
        self.useFixture(placement_fixtures.PolicyFixture(conf))
        factory = db_api.context_manager.make_new_manager()
        # Nothing listens on port 1; no connection test at start-up.
        factory.configure(connection='mysql+pymysql://root@127.0.0.1:1/x',
                          max_retries=0)
        self.addCleanup(db_api.context_manager.patch_factory(factory))
        app = deploy.loadapp(conf)
        resp = base.app_request(app, 'GET', '/resource_providers')
        self.assertEqual(503, resp.status_int)
        self.assertEqual('1', resp.headers['Retry-After'])
        error = resp.json_body['errors'][0]
        self.assertEqual(503, error['status'])
        self.assertEqual('placement.database_unavailable', error['code'])
