"""research_context._prepared: which queries PostgreSQL runs as
prepared statements, and how many it keeps per connection."""

from unittest import mock

import testtools

from placement.objects import research_context as research


class FakeConnection(object):
    def __init__(self):
        self.info = {}


class PreparedStatements(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conn = FakeConnection()
        self.cursor = mock.Mock()

    def run_sql(self, sql):
        return research._prepared(self.conn, self.cursor, sql)

    def executed(self):
        return [c.args[0] for c in self.cursor.execute.call_args_list]

    def test_a_query_met_once_runs_as_it_is(self):
        self.assertEqual('SELECT 1', self.run_sql('SELECT 1'))
        self.assertEqual([], self.executed())

    def test_a_query_met_again_is_prepared_once(self):
        self.run_sql('SELECT 1')
        first = self.run_sql('SELECT 1')
        self.assertTrue(first.startswith('EXECUTE placement_q'))
        self.assertEqual(['PREPARE %s AS SELECT 1' % first.split()[1]],
                         self.executed())
        self.assertEqual(first, self.run_sql('SELECT 1'))
        self.assertEqual(1, len(self.executed()))

    def test_the_least_recently_used_statement_is_deallocated(self):
        self.limit_prepared(2)
        names = {}
        for sql in ('SELECT 1', 'SELECT 2', 'SELECT 1', 'SELECT 2'):
            names[sql] = self.run_sql(sql).split()[1]
        self.run_sql('SELECT 1')          # 2 is now the oldest
        self.run_sql('SELECT 3')
        self.run_sql('SELECT 3')
        self.assertEqual('DEALLOCATE ' + names['SELECT 2'],
                         self.executed()[-1])
        self.assertEqual('EXECUTE ' + names['SELECT 1'],
                         self.run_sql('SELECT 1'))
        self.assertEqual('SELECT 2', self.run_sql('SELECT 2'))

    def limit_prepared(self, value):
        patcher = mock.patch.object(research, 'PREPARED_MAX', value)
        patcher.start()
        self.addCleanup(patcher.stop)
