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


fixtures.for_each_backend(globals(), _ApiRaces)
