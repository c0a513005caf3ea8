"""The 409s only a race can cause, forced with mocks and checked through
the WSGI app: retries exhausted on provider races, and a consumer that
changed between our read and our compare-and-set."""

import json
from unittest import mock
import uuid

import sqlalchemy as sa
import webob

from placement.db import models
from placement import deploy
from placement import exception
from placement.objects import consumer as consumer_obj
from placement.objects import resource_provider as rp_obj
from placement.tests import fixtures


class _ConflictTests(object):

    def setUp(self):
        super().setUp()
        self.app = deploy.loadapp(self.conf)
        self.rp_uuid = str(uuid.uuid4())
        with self.db.engine.begin() as conn:
            rp_id = conn.execute(sa.insert(models.RP).values(
                uuid=self.rp_uuid, name='rp', generation=0)
            ).inserted_primary_key[0]
            conn.execute(sa.insert(models.INV).values(
                resource_provider_id=rp_id, resource_class_id=0, total=8,
                reserved=0, min_unit=1, max_unit=8, step_size=1,
                allocation_ratio=1.0))
        self.consumer = str(uuid.uuid4())

    def put(self, generation, version='latest', **extra):
        req = webob.Request.blank('/allocations/%s' % self.consumer,
                                  method='PUT')
        req.headers['x-auth-token'] = 'admin'
        req.headers['OpenStack-API-Version'] = 'placement %s' % version
        body = {'allocations': {self.rp_uuid: {'resources': {'VCPU': 1}}},
                'project_id': 'p', 'user_id': 'u'}
        if generation is not None or version == 'latest':
            body.update(consumer_generation=generation,
                        consumer_type='INSTANCE')
        body.update(extra)
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
        resp = req.get_response(self.app)
        return resp.status_int, json.loads(resp.body) if resp.body else None

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

    def test_consumer_changed_after_our_read(self):
        self.assertEqual(204, self.put(None)[0])
        with mock.patch.object(consumer_obj, 'compare_and_set',
                               return_value=False):
            status, body = self.put(1)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertIn('consumer generation conflict - expected 1 but got 1',
                      error['detail'])
        self.assertEqual({'kind': 'consumer_generation',
                          'consumer_uuid': self.consumer,
                          'expected': 1, 'current': 1}, error['conflict'])

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
        with mock.patch.object(consumer_obj, 'get_by_uuids',
                               return_value={}):
            status, body = self.put(None)
        self.assertEqual(409, status)
        error = body['errors'][0]
        self.assertIn('consumer generation conflict - expected 1 but got '
                      'None', error['detail'])
        self.assertEqual({'kind': 'consumer_generation',
                          'consumer_uuid': self.consumer,
                          'expected': None, 'current': 1}, error['conflict'])


fixtures.for_each_backend(globals(), _ConflictTests, backends=('sqlite',))
