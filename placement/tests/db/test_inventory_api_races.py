"""Inventory, trait and aggregate writes racing through the WSGI app on
every backend: writers sending the same provider generation get exactly
one success and 409 ``placement.concurrent_update`` for the rest (never a
500), and the final state is the winner's."""

import uuid

import sqlalchemy as sa

from placement.db import api as db_api
from placement.tests import fixtures
from placement.tests.functional import base

RACERS = 6


class _ApiRaces(base.AppClient):

    def assertOneWins(self, results):
        statuses = sorted(status for status, _data in results)
        self.assertEqual([200] + [409] * (len(results) - 1), statuses,
                         results)
        for status, data in results:
            if status == 409:
                self.assertEqual('placement.concurrent_update',
                                 data['errors'][0]['code'])
        return [data for status, data in results if status == 200][0]

    def test_racing_writes_of_one_provider(self):
        rp = str(uuid.uuid4())
        status, _data = self.call('POST', '/resource_providers',
                                  {'name': 'racer', 'uuid': rp})
        self.assertEqual(200, status)
        base = '/resource_providers/%s' % rp

        won = self.assertOneWins(self.race_requests(
            'PUT', base + '/inventories',
            [{'resource_provider_generation': 0,
              'inventories': {'VCPU': {'total': n + 1}}}
             for n in range(RACERS)]))
        self.assertEqual(1, won['resource_provider_generation'])
        _status, data = self.call('GET', base + '/inventories')
        self.assertEqual(won['inventories']['VCPU']['total'],
                         data['inventories']['VCPU']['total'])

        for n in range(RACERS):
            self.call('PUT', '/traits/CUSTOM_RACE_%d' % n)
        won = self.assertOneWins(self.race_requests(
            'PUT', base + '/traits',
            [{'resource_provider_generation': 1,
              'traits': ['CUSTOM_RACE_%d' % n]} for n in range(RACERS)]))
        self.assertEqual(2, won['resource_provider_generation'])
        _status, data = self.call('GET', base + '/traits')
        self.assertEqual(won['traits'], data['traits'])

        won = self.assertOneWins(self.race_requests(
            'PUT', base + '/aggregates',
            [{'resource_provider_generation': 2,
              'aggregates': [str(uuid.uuid4())]} for n in range(RACERS)]))
        self.assertEqual(3, won['resource_provider_generation'])
        _status, data = self.call('GET', base + '/aggregates')
        self.assertEqual(won['aggregates'], data['aggregates'])
        self.assertEqual(3, data['resource_provider_generation'])

    def test_lookup_and_write_are_one_transaction(self):
        rp = str(uuid.uuid4())
        self.call('POST', '/resource_providers', {'name': 'once', 'uuid': rp})
        agg = str(uuid.uuid4())
        other = str(uuid.uuid4())
        self.call('POST', '/resource_providers',
                  {'name': 'other', 'uuid': other})
        # (The aggregate's first use creates it in its own transaction.)
        status, data = self.call(
            'PUT', '/resource_providers/%s/aggregates' % other,
            {'resource_provider_generation': 0, 'aggregates': [agg]})
        self.assertEqual(200, status, data)
        checkouts = []

        def count(*_args):
            checkouts.append(1)

        engine = db_api.get_engine()
        sa.event.listen(engine, 'checkout', count)
        self.addCleanup(sa.event.remove, engine, 'checkout', count)
        base = '/resource_providers/%s' % rp
        status, data = self.call('PUT', base + '/inventories', {
            'resource_provider_generation': 0,
            'inventories': {'VCPU': {'total': 4}}})
        self.assertEqual(200, status, data)
        status, data = self.call('PUT', base + '/traits', {
            'resource_provider_generation': 1,
            'traits': ['HW_CPU_X86_AVX2']})
        self.assertEqual(200, status, data)
        status, data = self.call('PUT', base + '/aggregates', {
            'resource_provider_generation': 2, 'aggregates': [agg]})
        self.assertEqual(200, status, data)
        self.assertEqual(3, len(checkouts))

    def test_a_new_providers_setup_statement_by_statement(self):
        # What nova (and the benchmark's load) sends for each new compute
        # node; the first use of the aggregate and the traits is not
        # counted.
        other = str(uuid.uuid4())
        self.call('POST', '/resource_providers', {'name': 'o', 'uuid': other})
        agg = str(uuid.uuid4())
        self.call('PUT', '/resource_providers/%s/aggregates' % other,
                  {'resource_provider_generation': 0, 'aggregates': [agg]})
        rp = str(uuid.uuid4())
        rp_path = '/resource_providers/%s' % rp
        writes = [
            ('POST', '/resource_providers', {'name': 'new', 'uuid': rp}),
            ('PUT', rp_path + '/inventories', {
                'resource_provider_generation': 0,
                'inventories': {'VCPU': {'total': 4}}}),
            ('PUT', rp_path + '/aggregates', {
                'resource_provider_generation': 1, 'aggregates': [agg]}),
            ('PUT', rp_path + '/traits', {
                'resource_provider_generation': 2,
                'traits': ['HW_CPU_X86_AVX2']}),
        ]
        seen = []
        for method, path, body in writes:
            with fixtures.recorded_statements() as statements:
                status, data = self.call(method, path, body)
            self.assertEqual(200, status, data)
            seen.append(statements)
        # PostgreSQL: a root draws its id for both id columns; the lock
        # returns the provider's row. Elsewhere the root's id is written
        # after the insert, and the row read after the lock.
        locked = {'postgresql': ['UPDATE'], 'mysql': ['UPDATE', 'SELECT'],
                  'sqlite': ['UPDATE', 'SELECT']}[self.db.engine.dialect.name]
        self.assertEqual([
            {'postgresql': ['INSERT'], 'mysql': ['INSERT', 'UPDATE'],
             'sqlite': ['INSERT', 'UPDATE', 'SELECT']}[self.db.engine.dialect.name],
            # Lock, bump, current inventory, insert.
            locked + ['UPDATE', 'SELECT', 'INSERT'],
            # Lock, the aggregates named and the provider's in one read,
            # bump, insert.
            locked + ['SELECT', 'UPDATE', 'INSERT'],
            # The same for traits.
            locked + ['SELECT', 'UPDATE', 'INSERT'],
        ], seen)
        _status, data = self.call('GET', rp_path + '/traits')
        self.assertEqual((['HW_CPU_X86_AVX2'], 3),
                         (data['traits'],
                          data['resource_provider_generation']))
        _status, data = self.call('GET', rp_path + '/aggregates')
        self.assertEqual([agg], data['aggregates'])

    def test_a_created_root_answers_what_is_stored(self):
        rp = str(uuid.uuid4())
        resp = base.app_request(self.app, 'POST', '/resource_providers',
                                {'name': 'root', 'uuid': rp})
        shown = base.app_request(self.app, 'GET',
                                 '/resource_providers/%s' % rp)
        self.assertEqual(200, shown.status_int)
        self.assertEqual(shown.json_body, resp.json_body)
        self.assertEqual(rp, resp.json_body['root_provider_uuid'])
        self.assertIsNone(resp.json_body['parent_provider_uuid'])
        self.assertEqual(shown.headers['Last-Modified'],
                         resp.headers['Last-Modified'])

    def test_trait_and_aggregate_sets_change_both_ways(self):
        rp = str(uuid.uuid4())
        self.call('POST', '/resource_providers', {'name': 'sets', 'uuid': rp})
        base_path = '/resource_providers/%s' % rp
        aggs = [str(uuid.uuid4()) for _n in range(3)]
        generation = 0
        for wanted in (aggs[:2], aggs[1:], [], aggs[2:]):
            status, data = self.call('PUT', base_path + '/aggregates', {
                'resource_provider_generation': generation,
                'aggregates': wanted})
            self.assertEqual(200, status, data)
            generation += 1
            _status, data = self.call('GET', base_path + '/aggregates')
            self.assertEqual(sorted(wanted), sorted(data['aggregates']))
        traits = ['HW_CPU_X86_AVX2', 'HW_CPU_X86_SSE', 'HW_CPU_X86_AVX']
        for wanted, moves in ((traits[:2], True), (traits[:2], False),
                              (traits[1:], True), ([], True)):
            status, data = self.call('PUT', base_path + '/traits', {
                'resource_provider_generation': generation,
                'traits': wanted})
            self.assertEqual(200, status, data)
            # The generation moves only when the set changes.
            generation += moves
            self.assertEqual(generation, data['resource_provider_generation'])
            _status, data = self.call('GET', base_path + '/traits')
            self.assertEqual(sorted(wanted), sorted(data['traits']))
            self.assertEqual(generation, data['resource_provider_generation'])


fixtures.for_each_backend(globals(), _ApiRaces)
