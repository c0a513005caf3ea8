"""The 409s only a race can cause, forced with mocks and checked through
the WSGI app: retries exhausted on provider races, and a consumer that
changed between our read and our compare-and-set."""

from unittest import mock
import uuid

from oslo_db import exception as db_exc
import sqlalchemy as sa

from placement.db import models
from placement import exception
from placement.objects import consumer as consumer_obj
from placement.objects import inventory as inv_obj
from placement.objects import resource_class as rc_obj
from placement.objects import reshaper as reshaper_obj
from placement.objects import resource_provider as rp_obj
from placement.tests import fixtures
from placement.tests.functional import base


class _AppCase(base.AppClient):
    """The app on a provider with 8 VCPU and one consumer uuid."""

    def setUp(self):
        super().setUp()
        self.rp_uuid, _rp_id = self.db.insert_provider('rp', {0: 8})
        self.consumer = str(uuid.uuid4())

    def put(self, generation, version='latest', **extra):
        body = {'allocations': {self.rp_uuid: {'resources': {'VCPU': 1}}},
                'project_id': 'p', 'user_id': 'u'}
        if generation is not None or version == 'latest':
            body.update(consumer_generation=generation,
                        consumer_type='INSTANCE')
        body.update(extra)
        return self.call('PUT', '/allocations/%s' % self.consumer, body,
                         version)

    def reshape(self, generation, inventories):
        return self.call('POST', '/reshaper', {
            'inventories': {self.rp_uuid: {
                'resource_provider_generation': generation,
                'inventories': inventories}},
            'allocations': {}}, headers={'x-roles': 'admin,service'})

    def generation(self):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(models.RP.c.generation).where(
                models.RP.c.uuid == self.rp_uuid)).scalar()


class _ConflictTests(_AppCase):

    def test_retries_exhausted(self):
        self.conf.set_override('allocation_conflict_retry_count', 1,
                               group='placement')
        with mock.patch.object(
                rp_obj, 'increment_generation',
                side_effect=exception.ResourceProviderConcurrentUpdateDetected()):
            status, body = self.put(None)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertEqual('placement.concurrent_update', error['code'])
        self.assertIn('Inventory and/or allocations changed while attempting '
                      'to allocate', error['detail'])
        self.assertEqual({'kind': 'provider_generation',
                          'resource_provider_uuid': self.rp_uuid,
                          'expected': 0, 'current': 0}, error['conflict'])

    def test_delete_gives_up_on_deadlocks(self):
        self.assertEqual(204, self.put(None)[0])
        self.conf.set_override('allocation_conflict_retry_count', 1,
                               group='placement')
        with mock.patch.object(consumer_obj, 'delete_by_uuid',
                               side_effect=db_exc.DBDeadlock()) as m:
            status, data = self.call('DELETE',
                                     '/allocations/%s' % self.consumer)
        self.assertEqual(2, m.call_count)
        self.assertEqual(409, status)
        error = data['errors'][0]
        self.assertEqual('placement.concurrent_update', error['code'])
        self.assertEqual({'kind': 'provider_generation'}, error['conflict'])
        # Nothing was deleted.
        self.assertEqual(204, self.put(1)[0])

    def test_consumer_changed_after_our_read(self):
        # The CAS lost, yet the consumer is (again) at the generation we
        # sent: no "expected 1 but got 1", but what happened.
        self.assertEqual(204, self.put(None)[0])
        with mock.patch.object(consumer_obj, 'compare_and_set',
                               return_value=False):
            status, body = self.put(1)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertEqual('placement.concurrent_update', error['code'])
        self.assertIn('consumer generation conflict - consumer %s was '
                      'changed by a concurrent request while this one was '
                      'writing (generation sent: 1, now: 1)' % self.consumer,
                      error['detail'])
        self.assertNotIn('expected 1 but got 1', error['detail'])
        self.assertEqual({'kind': 'consumer_generation', 'concurrent': True,
                          'consumer_uuid': self.consumer,
                          'expected': 1, 'current': 1}, error['conflict'])

    def test_consumer_moved_on_after_our_read(self):
        # The CAS lost and the consumer is now at another generation: the
        # upstream wording is honest then.
        self.assertEqual(204, self.put(None)[0])
        with mock.patch.object(consumer_obj, 'compare_and_set',
                               return_value=False), \
                mock.patch.object(consumer_obj, 'current_generation',
                                  return_value=2):
            status, body = self.put(1)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertIn('consumer generation conflict - expected 2 but got 1',
                      error['detail'])
        self.assertEqual({'kind': 'consumer_generation', 'concurrent': True,
                          'consumer_uuid': self.consumer,
                          'expected': 1, 'current': 2}, error['conflict'])

    def test_creator_lost_and_winner_gone_again(self):
        # We saw no consumer, our INSERT hit the unique key, and by the
        # time we answer the winner's consumer is gone again: the old text
        # would read "expected null but got None".
        with mock.patch.object(consumer_obj, 'insert',
                               side_effect=db_exc.DBDuplicateEntry()):
            status, body = self.put(None)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertNotIn('expected null but got None', error['detail'])
        self.assertIn('consumer generation conflict - consumer %s was '
                      'changed by a concurrent request' % self.consumer,
                      error['detail'])
        self.assertIn('(generation sent: null, now: null)', error['detail'])
        self.assertEqual({'kind': 'consumer_generation', 'concurrent': True,
                          'consumer_uuid': self.consumer,
                          'expected': None, 'current': None},
                         error['conflict'])

    def test_capacity_failure_across_a_commit_is_the_race(self):
        # On READ COMMITTED the capacity check may see another writer's
        # commit that our first read of the consumer did not: the 409 then
        # blames the race, not capacity.
        self.assertEqual(204, self.put(None)[0])
        # The claim reads the consumer once (consumer_obj.lookup); the
        # re-check after the failed capacity check finds it gone.
        with mock.patch.object(consumer_obj, 'get_by_uuids',
                               return_value={}):
            status, body = self.put(
                1, allocations={self.rp_uuid: {'resources': {'VCPU': 9}}})
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertEqual('placement.concurrent_update', error['code'])
        self.assertEqual('consumer_generation', error['conflict']['kind'])
        self.assertTrue(error['conflict']['concurrent'])

    def test_genuine_capacity_failure_stands(self):
        self.assertEqual(204, self.put(None)[0])
        status, body = self.put(
            1, allocations={self.rp_uuid: {'resources': {'VCPU': 9}}})
        self.assertEqual(409, status)
        self.assertEqual('capacity', body['errors'][0]['conflict']['kind'])

    def test_consumer_changed_after_our_read_below_1_28(self):
        self.assertEqual(204, self.put(None)[0])
        with mock.patch.object(consumer_obj, 'compare_and_set',
                               return_value=False):
            status, body = self.put(None, version='1.27')
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertEqual('placement.concurrent_update', error['code'])
        self.assertIn('Inventory and/or allocations changed',
                      error['detail'])
        self.assertEqual('consumer_generation', error['conflict']['kind'])

    def test_consumer_created_by_someone_else_first(self):
        self.assertEqual(204, self.put(None)[0])
        real = consumer_obj.lookup

        def unseen(*args):
            found = real(*args)
            found.consumers = {}
            return found

        with mock.patch.object(consumer_obj, 'lookup', side_effect=unseen):
            status, body = self.put(None)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertIn('consumer generation conflict - expected 1 but got '
                      'None', error['detail'])
        self.assertEqual({'kind': 'consumer_generation', 'concurrent': True,
                          'consumer_uuid': self.consumer,
                          'expected': None, 'current': 1}, error['conflict'])


fixtures.for_each_backend(globals(), _ConflictTests, backends=('sqlite',))


class _ReshaperRetryTests(_AppCase):
    """Reshaper failures raised through inventory.py's
    ``db_races_as_conflict`` are retried when their cause is a deadlock
    (like every allocation write), bounded by the retry count."""

    def test_deadlock_in_inventory_step_retried(self):
        real = inv_obj._existing
        calls = []

        def deadlock_once(ctx, rp_id):
            calls.append(rp_id)
            if len(calls) == 1:
                raise db_exc.DBDeadlock()
            return real(ctx, rp_id)

        with mock.patch.object(inv_obj, '_existing',
                               side_effect=deadlock_once):
            status, body = self.reshape(0, {'VCPU': {'total': 16}})
        self.assertEqual(204, status, body)
        # Interim and final step of the successful attempt only.
        self.assertEqual(2, self.generation())

    def test_deadlocks_exhaust_the_retries(self):
        self.conf.set_override('allocation_conflict_retry_count', 2,
                               group='placement')
        with mock.patch.object(inv_obj, '_existing',
                               side_effect=db_exc.DBDeadlock()) as m:
            status, body = self.reshape(0, {'VCPU': {'total': 16}})
        self.assertEqual(3, m.call_count)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertEqual('placement.concurrent_update', error['code'])
        self.assertIn('Inventory and/or allocations changed', error['detail'])
        self.assertEqual('provider_generation', error['conflict']['kind'])
        self.assertEqual(0, self.generation())

    def test_duplicate_key_is_not_retried(self):
        with mock.patch.object(inv_obj, '_existing',
                               side_effect=db_exc.DBDuplicateEntry()) as m:
            status, body = self.reshape(0, {'VCPU': {'total': 16}})
        self.assertEqual(1, m.call_count)
        self.assertEqual(409, status)
        self.assertEqual('placement.concurrent_update',
                         body['errors'][0]['code'])


class _ReshaperCheckRaces(_AppCase):
    """A provider change committed after the reshaper checked the client's
    generation must fail the reshape (409), even on READ COMMITTED
    (PostgreSQL), where a re-read would see the new generation."""

    def test_change_committed_after_the_check(self):
        real = rc_obj.ids_from_names
        bumped = []

        def commit_a_change_first(ctx, names):
            if not bumped:
                bumped.append(True)
                with self.db.engine.begin() as conn:
                    conn.execute(sa.update(models.RP)
                                 .where(models.RP.c.uuid == self.rp_uuid)
                                 .values(generation=models.RP.c.generation
                                         + 1))
            return real(ctx, names)

        with mock.patch.object(reshaper_obj.rc_obj, 'ids_from_names',
                               side_effect=commit_a_change_first):
            status, body = self.reshape(0, {'VCPU': {'total': 16}})
        self.assertEqual(409, status, body)
        self.assertIn('resource provider generation conflict for provider '
                      '%s: actual: 1, given: 0' % self.rp_uuid,
                      body['errors'][0]['detail'])
        self.assertEqual(1, self.generation())


fixtures.for_each_backend(globals(), _ReshaperRetryTests,
                          backends=('sqlite',))
fixtures.for_each_backend(globals(), _ReshaperCheckRaces,
                          backends=('mysql', 'postgresql'))
