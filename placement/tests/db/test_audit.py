"""``placement-manage audit`` on every backend: what it finds, its exit
status and JSON output, what ``--fix`` deletes (and never: a consumer
that gains allocations while the fix runs, or one a writer is about to
use)."""

import io
import os
import subprocess
import sys
import threading
import time
from unittest import mock
import uuid

import fixtures as test_fixtures
from oslo_config import cfg
from oslo_serialization import jsonutils
import sqlalchemy as sa

from placement.cmd import manage
from placement import context
from placement.db import api as db_api
from placement.db import models
from placement.objects import allocation as alloc_obj
from placement.objects import audit as audit_obj
from placement.tests import fixtures
from placement.tests.functional import base

VCPU, DISK_GB = 0, 2


class _Audit(base.AppClient):

    def setUp(self):
        super().setUp()
        self.rp = str(uuid.uuid4())
        self.assertEqual(200, self.call('POST', '/resource_providers',
                                        {'name': 'cn', 'uuid': self.rp})[0])
        self.assertEqual(200, self.call(
            'PUT', '/resource_providers/%s/inventories' % self.rp,
            {'resource_provider_generation': 0,
             'inventories': {'VCPU': {'total': 8}}})[0])

    def put_allocations(self, consumer, vcpu, generation=None,
                        project='p1', user='u1'):
        body = {'allocations': {}, 'consumer_generation': generation,
                'project_id': project, 'user_id': user,
                'consumer_type': 'INSTANCE'}
        if vcpu:
            body['allocations'][self.rp] = {'resources': {'VCPU': vcpu}}
        return self.call('PUT', '/allocations/%s' % consumer, body)[0]

    def empty_consumer(self, project='p2', user='u2'):
        """A consumer row without allocations (PUT {} of a new consumer
        leaves one at generation 0)."""
        consumer = str(uuid.uuid4())
        self.assertEqual(204, self.put_allocations(
            consumer, 0, project=project, user=user))
        return consumer

    def rows(self, column):
        with self.db.engine.connect() as conn:
            return sorted(conn.execute(sa.select(column)).scalars())

    def cli(self, *args):
        """(exit status, stdout) of ``placement-manage audit <args>`` run
        in-process against the test database."""
        conf = manage.parse_config(['audit'] + list(args),
                                   conf=cfg.ConfigOpts())
        out = io.StringIO()
        with mock.patch.object(sys, 'stdout', out):
            status = manage.audit(conf)
        return status, out.getvalue()

    def overlap(self, holder, waiter):
        """Run ``holder(ctx)`` in a writer transaction kept open, and then
        ``waiter()`` in another thread; check the waiter is blocked by the
        open transaction (still running a second later), then commit the
        holder and wait for both."""
        held, release = threading.Event(), threading.Event()

        def hold():
            ctx = context.RequestContext(config=self.conf)
            with db_api.context_manager.writer.using(ctx):
                holder(ctx)
                held.set()
                release.wait(60)

        threads = [threading.Thread(target=hold, daemon=True)]
        threads[0].start()
        self.assertTrue(held.wait(30))
        threads.append(threading.Thread(target=waiter, daemon=True))
        threads[1].start()
        time.sleep(1)
        self.assertTrue(threads[1].is_alive())
        release.set()
        for thread in threads:
            thread.join(60)
            self.assertFalse(thread.is_alive())

    def test_clean_database(self):
        self.assertEqual(204, self.put_allocations(str(uuid.uuid4()), 2))
        findings = audit_obj.report(self.ctx)
        self.assertEqual(set(audit_obj.SECTIONS), set(findings))
        self.assertFalse(any(findings.values()))
        status, out = self.cli()
        self.assertEqual(0, status)
        self.assertIn('Consumers with no allocations: 0', out)
        status, out = self.cli('--json')
        self.assertEqual(0, status)
        self.assertEqual({s: [] for s in audit_obj.SECTIONS},
                         jsonutils.loads(out)['findings'])

    def test_findings_then_fix(self):
        used = str(uuid.uuid4())
        self.assertEqual(204, self.put_allocations(used, 6))
        # Capacity lowered under the usage (the API allows it).
        self.assertEqual(200, self.call(
            'PUT', '/resource_providers/%s/inventories/VCPU' % self.rp,
            {'resource_provider_generation': 2, 'total': 5,
             'reserved': 1})[0])
        empty = self.empty_consumer()
        orphan = str(uuid.uuid4())
        with self.db.engine.begin() as conn:
            rp_id = conn.execute(sa.select(models.RP.c.id).where(
                models.RP.c.uuid == self.rp)).scalar()
            conn.execute(sa.insert(models.ALLOC), [
                # A class the provider has no inventory of.
                {'resource_provider_id': rp_id, 'consumer_id': used,
                 'resource_class_id': DISK_GB, 'used': 10},
                # A consumer row that does not exist.
                {'resource_provider_id': rp_id, 'consumer_id': orphan,
                 'resource_class_id': VCPU, 'used': 1}])
            conn.execute(sa.insert(models.PROJECT), [{'external_id': 'p3'}])
            conn.execute(sa.insert(models.USER), [{'external_id': 'u3'}])

        findings = audit_obj.report(self.ctx)
        self.assertEqual([{'resource_provider_uuid': self.rp,
                           'resource_class': 'VCPU', 'used': 7,
                           'capacity': 4, 'total': 5, 'reserved': 1,
                           'allocation_ratio': 1.0}],
                         findings[audit_obj.OVER_CAPACITY])
        self.assertEqual([{'resource_provider_uuid': self.rp,
                           'resource_provider_id': rp_id,
                           'resource_class': 'DISK_GB',
                           'consumer_uuid': used, 'used': 10}],
                         findings[audit_obj.WITHOUT_INVENTORY])
        self.assertEqual([{'consumer_uuid': empty, 'generation': 0}],
                         findings[audit_obj.EMPTY_CONSUMERS])
        self.assertEqual([{'consumer_uuid': orphan, 'allocations': 1}],
                         findings[audit_obj.WITHOUT_CONSUMER])
        self.assertEqual(['p3'], [p['external_id'] for p in
                                  findings[audit_obj.UNUSED_PROJECTS]])
        self.assertEqual(['u3'], [u['external_id'] for u in
                                  findings[audit_obj.UNUSED_USERS]])

        # Read-only by default: a second run finds the same.
        status, out = self.cli('--json')
        self.assertEqual(1, status)
        self.assertEqual(findings, jsonutils.loads(out)['findings'])
        status, out = self.cli()
        self.assertEqual(1, status)
        self.assertIn('Providers over capacity (usage above (total - '
                      'reserved) * allocation_ratio): 1', out)
        self.assertIn('consumer_uuid=%s' % orphan, out)

        status, out = self.cli('--fix', '--json')
        self.assertEqual(1, status)  # the unfixable findings remain
        result = jsonutils.loads(out)
        self.assertEqual([empty], [c['consumer_uuid'] for c in
                                   result['fixed']['empty_consumers']])
        # p2/u2 were used only by the deleted consumer.
        self.assertEqual(['p2', 'p3'], [p['external_id'] for p in
                                        result['fixed']['unused_projects']])
        self.assertEqual(['u2', 'u3'], [u['external_id'] for u in
                                        result['fixed']['unused_users']])
        remaining = result['remaining']
        for section in audit_obj.FIXABLE:
            self.assertEqual([], remaining[section])
        for section in (audit_obj.OVER_CAPACITY, audit_obj.WITHOUT_INVENTORY,
                        audit_obj.WITHOUT_CONSUMER):
            self.assertEqual(findings[section], remaining[section])
        self.assertEqual([used], self.rows(models.CONSUMER.c.uuid))
        self.assertEqual(['p1'], self.rows(models.PROJECT.c.external_id))
        self.assertEqual(['u1'], self.rows(models.USER.c.external_id))
        # Nothing but those rows was touched.
        _status, data = self.call('GET', '/allocations/%s' % used)
        self.assertEqual({'VCPU': 6, 'DISK_GB': 10},
                         data['allocations'][self.rp]['resources'])
        status, out = self.cli('--fix')
        self.assertEqual(1, status)
        self.assertIn('Deleted: 0 empty consumers, 0 unused projects, '
                      '0 unused users', out)

    def test_fix_spares_a_consumer_that_gains_allocations(self):
        """A writer holding the empty consumer (compare-and-set done,
        allocations inserted, not committed) when the fix starts: the fix
        waits for it and then leaves the consumer alone."""
        empty = self.empty_consumer()
        candidates = [c['consumer_uuid'] for c in audit_obj.report(
            self.ctx)[audit_obj.EMPTY_CONSUMERS]]
        self.assertEqual([empty], candidates)
        results = {}

        def writer(ctx):
            alloc_obj.write_allocations(ctx, [alloc_obj.ConsumerRequest(
                empty, 'p2', 'u2', {self.rp: {'VCPU': 1}}, generation=0)])

        def fixer():
            ctx = context.RequestContext(config=self.conf)
            results['fixed'] = audit_obj.fix(ctx, candidates)

        self.overlap(writer, fixer)
        self.assertEqual([], results['fixed'][audit_obj.EMPTY_CONSUMERS])
        self.assertEqual([], results['fixed'][audit_obj.UNUSED_PROJECTS])
        _status, data = self.call('GET', '/allocations/%s' % empty)
        self.assertEqual({'VCPU': 1},
                         data['allocations'][self.rp]['resources'])
        self.assertEqual(1, data['consumer_generation'])
        self.assertEqual('p2', data['project_id'])
        self.assertFalse(any(audit_obj.report(self.ctx).values()))

    def test_fix_spares_a_project_a_writer_is_about_to_use(self):
        """A writer creating a consumer of a so far unused project (not
        committed yet) when the fix starts: the project row stays."""
        with self.db.engine.begin() as conn:
            conn.execute(sa.insert(models.PROJECT), [{'external_id': 'p3'}])
        self.assertEqual(['p3'], [p['external_id'] for p in audit_obj.report(
            self.ctx)[audit_obj.UNUSED_PROJECTS]])
        consumer = str(uuid.uuid4())
        results = {}

        def writer(ctx):
            alloc_obj.write_allocations(ctx, [alloc_obj.ConsumerRequest(
                consumer, 'p3', 'u3', {self.rp: {'VCPU': 1}},
                generation=None)])

        def fixer():
            ctx = context.RequestContext(config=self.conf)
            results['fixed'] = audit_obj.fix(ctx, [])

        self.overlap(writer, fixer)
        self.assertEqual([], results['fixed'][audit_obj.UNUSED_PROJECTS])
        _status, data = self.call('GET', '/allocations/%s' % consumer)
        self.assertEqual(('p3', 'u3'), (data['project_id'], data['user_id']))
        self.assertFalse(any(audit_obj.report(self.ctx).values()))

    def test_writer_waiting_on_the_fix_fails_cleanly(self):
        """The fix holding its locks when a writer comes for the consumer
        and its project: the writer waits, then gets a consumer
        generation 409; no allocation or consumer is left pointing at a
        deleted row."""
        empty = self.empty_consumer()
        results = {}

        def fixer(ctx):
            results['fixed'] = audit_obj.fix_in_transaction(ctx, [empty])

        def writer():
            results['status'] = self.put_allocations(empty, 1, generation=0,
                                                     project='p2', user='u2')

        self.overlap(fixer, writer)
        self.assertEqual([empty], [c['consumer_uuid'] for c in
                                   results['fixed']['empty_consumers']])
        self.assertEqual(409, results['status'])
        self.assertEqual([], self.rows(models.CONSUMER.c.uuid))
        findings = audit_obj.report(self.ctx)
        self.assertEqual([], findings[audit_obj.WITHOUT_CONSUMER])
        # The writer may retry from scratch: a fresh consumer, fresh rows.
        self.assertEqual(204, self.put_allocations(empty, 1, project='p2',
                                                   user='u2'))
        _status, data = self.call('GET', '/allocations/%s' % empty)
        self.assertEqual(('p2', 'u2'), (data['project_id'], data['user_id']))
        self.assertFalse(any(audit_obj.report(self.ctx).values()))

    def test_command_line(self):
        """The installed entry point: exit 0 clean, 1 with a finding."""
        conf_file = os.path.join(
            self.useFixture(test_fixtures.TempDir()).path, 'placement.conf')
        with open(conf_file, 'w') as f:
            f.write('[placement_database]\nconnection = %s\n' % self.db.url)
        command = [sys.executable, '-m', 'placement.cmd.manage',
                   '--config-file', conf_file, 'audit', '--json']
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(0, done.returncode, done.stderr)
        self.empty_consumer()
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(1, done.returncode, done.stderr)
        self.assertEqual(1, len(jsonutils.loads(done.stdout)['findings'][
            'empty_consumers']))


fixtures.for_each_backend(globals(), _Audit)
