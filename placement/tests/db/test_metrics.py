"""Metrics the gabbi files cannot force or read exactly: server-side
allocation retries and their outcome (provider races forced with a
mock), database time and statements per request, pool checkouts, and
randomized candidates (generated > returned) — on every backend."""

import threading
import time
from unittest import mock
import uuid


from placement.db import api as db_api
from placement import deploy
from placement import exception
from placement.objects import resource_provider as rp_obj
from placement.tests import fixtures
from placement.tests.functional import base


class _MetricsApp(base.AppClient):

    def setUp(self):
        super().setUp()
        self.conf.set_override('enabled', True, group='metrics')
        self.app = deploy.loadapp(self.conf)
        self.rp_uuid, _rp_id = self.db.insert_provider('rp', {0: 8})

    def scrape(self):
        resp = base.app_request(self.app, 'GET', '/metrics')
        self.assertEqual(200, resp.status_int)
        return base.metric_samples(resp.text)

    def put(self, consumer, vcpu=1):
        return self.call('PUT', '/allocations/%s' % consumer, {
            'allocations': {self.rp_uuid: {'resources': {'VCPU': vcpu}}},
            'project_id': 'p', 'user_id': 'u', 'consumer_generation': None,
            'consumer_type': 'INSTANCE'})[0]


class _MetricsCase(_MetricsApp):

    def test_retry_then_commit(self):
        real = rp_obj.increment_generation
        calls = []

        def race_once(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise exception.ResourceProviderConcurrentUpdateDetected()
            return real(*args, **kwargs)

        with mock.patch.object(rp_obj, 'increment_generation',
                               side_effect=race_once):
            self.assertEqual(204, self.put(str(uuid.uuid4())))
        found = self.scrape()
        self.assertEqual(
            1.0, found[('placement_allocation_writes_total',
                        (('outcome', 'committed'),))])
        self.assertEqual(
            1.0, found[('placement_allocation_write_retries_total',
                        (('outcome', 'committed'),))])

    def test_retries_exhausted(self):
        self.conf.set_override('allocation_conflict_retry_count', 2,
                               group='placement')
        with mock.patch.object(
                rp_obj, 'increment_generation',
                side_effect=exception.ResourceProviderConcurrentUpdateDetected()):
            self.assertEqual(409, self.put(str(uuid.uuid4())))
        found = self.scrape()
        exhausted = (('outcome', 'retries_exhausted'),)
        self.assertEqual(1.0, found[('placement_allocation_writes_total',
                                     exhausted)])
        self.assertEqual(2.0, found[(
            'placement_allocation_write_retries_total', exhausted)])
        self.assertEqual(1.0, found[('placement_http_conflicts_total', (
            ('kind', 'provider_generation'), ('method', 'PUT'),
            ('route', '/allocations/{consumer_uuid}')))])

    def test_capacity_conflict_is_rejected(self):
        self.assertEqual(409, self.put(str(uuid.uuid4()), vcpu=9))
        found = self.scrape()
        self.assertEqual(1.0, found[('placement_allocation_writes_total',
                                     (('outcome', 'rejected'),))])
        self.assertEqual(1.0, found[('placement_http_conflicts_total', (
            ('kind', 'capacity'), ('method', 'PUT'),
            ('route', '/allocations/{consumer_uuid}')))])

    def test_database_time_and_pool(self):
        for _ in range(3):
            self.assertEqual(200, self.call('GET', '/resource_providers')[0])
        found = self.scrape()
        labels = (('method', 'GET'), ('route', '/resource_providers'))
        self.assertEqual(3.0, found[(
            'placement_db_seconds_per_request_count', labels)])
        self.assertGreater(found[(
            'placement_db_seconds_per_request_sum', labels)], 0)
        self.assertGreaterEqual(found[(
            'placement_db_statements_per_request_sum', labels)], 3)
        # The first connection of an engine instruments its pool.
        self.assertGreaterEqual(
            found[('placement_db_pool_checkout_seconds_count', ())], 2)
        self.assertEqual(
            0.0, found[('placement_db_pool_checkouts_waiting', ())])
        # Only the scrape itself is in progress.
        self.assertEqual(
            1.0, found[('placement_http_requests_in_progress', ())])

    def test_randomized_candidates_generated_beyond_limit(self):
        for name in ('rp2', 'rp3'):
            self.db.insert_provider(name, {0: 8})
        self.conf.set_override('randomize_allocation_candidates', True,
                               group='placement')
        status, data = self.call(
            'GET', '/allocation_candidates?resources=VCPU:1&limit=2')
        self.assertEqual(200, status)
        self.assertEqual(2, len(data['allocation_requests']))
        found = self.scrape()
        self.assertEqual(
            3.0, found[('placement_allocation_candidates_generated_sum', ())])
        self.assertEqual(
            2.0, found[('placement_allocation_candidates_returned_sum', ())])
        self.assertEqual(1.0, found[(
            'placement_allocation_candidates_requests_total',
            (('limit_cut', 'true'),))])


class _PoolWaitCase(_MetricsApp):
    """A pool of one connection that the test holds: a request waits
    for it, and the scrape (which needs no connection) sees it waiting.
    (SQLite files use no pool: oslo.db gives them a NullPool.)"""

    def test_checkout_waiting(self):
        factory = db_api.context_manager.make_new_manager()
        factory.configure(connection=self.db.url, max_pool_size=1,
                          max_overflow=0, pool_timeout=60)
        self.addCleanup(db_api.context_manager.patch_factory(factory))
        engine = factory.writer.get_engine()
        self.addCleanup(engine.dispose)
        self.assertEqual(200, self.call('GET', '/resource_providers')[0])
        held = engine.connect()
        result = []
        thread = threading.Thread(target=lambda: result.append(
            self.call('GET', '/resource_providers')[0]))
        thread.start()
        waiting = (('placement_db_pool_checkouts_waiting', ()))
        deadline = time.monotonic() + 30
        while self.scrape()[waiting] != 1.0:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        time.sleep(0.2)
        held.close()
        thread.join(60)
        self.assertEqual([200], result)
        found = self.scrape()
        self.assertEqual(0.0, found[waiting])
        slowest = (('le', '0.1'),)
        self.assertLess(
            found[('placement_db_pool_checkout_seconds_bucket', slowest)],
            found[('placement_db_pool_checkout_seconds_count', ())])


fixtures.for_each_backend(globals(), _MetricsCase)
fixtures.for_each_backend(globals(), _PoolWaitCase,
                          backends=('mysql', 'postgresql'))
