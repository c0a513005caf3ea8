"""Fuzz the whole API from its OpenAPI document, on every backend.

Each backend's run seeds a valid dataset, reads it back, sends
``PLACEMENT_TEST_FUZZ_REQUESTS`` (default 10,000) generated requests —
schemathesis cases from ``openapi.at_version`` views, the API's filter
syntax, and hostile input (see ``fuzz.py``) — deterministically
(hypothesis ``derandomize``), and then requires: no 5xx, every error a
JSON error body, every success documented and strict JSON, the seeded
data reading back exactly as before, and everything stored (through the
API and in the tables) serialisable as strict JSON. The figure
(requests, 5xx) is printed.
"""

import json
import os
import sys
import urllib.parse
import uuid

import sqlalchemy as sa

from placement.db import models
from placement.tests import fixtures
from placement.tests.functional import base
from placement.tests.functional import fuzz

REQUESTS = int(os.environ.get('PLACEMENT_TEST_FUZZ_REQUESTS', '10000'))

KEEP_TRAIT = 'CUSTOM_FUZZ_KEEP'
PLAY_CLASSES = ['CUSTOM_PLAY_A', 'CUSTOM_PLAY_B']
PLAY_TRAITS = ['CUSTOM_PLAY_T1', 'CUSTOM_PLAY_T2']


def _uuid(n):
    return str(uuid.UUID(int=n))


PLAY_ROOTS = [_uuid(5000 + i) for i in range(3)]
PLAY_CHILD = _uuid(5010)
PLAY_CONSUMERS = [_uuid(3000 + i) for i in range(4)]
PLAY_AGGREGATES = [_uuid(1101), _uuid(1102)]


class _Fuzz(base.AppClient):

    def setUp(self):
        super().setUp()
        self.kept = {}

    def call_ok(self, method, path, body=None, version='latest'):
        status, data = self.call(method, path, body, version)
        self.assertLess(status, 300,
                        '%s %s: %s %s' % (method, path, status, data))
        return data

    # ------------------------------------------------------------- seed

    def _provider(self, name, parent=None, inventories=None, traits=(),
                  aggregates=()):
        body = {'name': name}
        if parent:
            body['parent_provider_uuid'] = parent
        rp = self.call_ok('POST', '/resource_providers', body)
        u = rp['uuid']
        if inventories:
            self.call_ok('PUT', '/resource_providers/%s/inventories' % u, {
                'resource_provider_generation': rp['generation'],
                'inventories': inventories})
        gen = self.call_ok('GET', '/resource_providers/%s' % u)['generation']
        if traits:
            gen = self.call_ok('PUT', '/resource_providers/%s/traits' % u, {
                'resource_provider_generation': gen,
                'traits': list(traits)})['resource_provider_generation']
        if aggregates:
            self.call_ok('PUT', '/resource_providers/%s/aggregates' % u, {
                'resource_provider_generation': gen,
                'aggregates': list(aggregates)})
        return u

    def _allocate(self, consumer, allocations, project, user,
                  consumer_type='INSTANCE'):
        self.call_ok('PUT', '/allocations/%s' % consumer, {
            'allocations': {rp: {'resources': res}
                            for rp, res in allocations.items()},
            'project_id': project, 'user_id': user,
            'consumer_generation': None, 'consumer_type': consumer_type})

    def seed(self):
        """A protected dataset the fuzzer never names (its reads are
        compared after the run) and a playground it is pointed at."""
        self.call_ok('PUT', '/traits/' + KEEP_TRAIT)
        inv = {'VCPU': {'total': 16, 'allocation_ratio': 1.5,
                        'reserved': 1, 'max_unit': 8},
               'MEMORY_MB': {'total': 65536, 'step_size': 256,
                             'min_unit': 256, 'max_unit': 32768},
               'DISK_GB': {'total': 1000, 'allocation_ratio': 1.0}}
        keep_root = self._provider('keep-root', inventories=inv,
                                   traits=['HW_CPU_X86_AVX2', KEEP_TRAIT],
                                   aggregates=[_uuid(1001)])
        keep_child = self._provider(
            'keep-child', parent=keep_root,
            inventories={'VCPU': {'total': 4}}, traits=['HW_NIC_SRIOV'])
        self._allocate(_uuid(2001), {keep_root: {'VCPU': 2,
                                                 'MEMORY_MB': 512}},
                       'keep-project', 'keep-user')
        self._allocate(_uuid(2002), {keep_child: {'VCPU': 1},
                                     keep_root: {'DISK_GB': 10}},
                       'keep-project', 'keep-user-2', 'MIGRATION')
        self.kept = {'providers': [keep_root, keep_child],
                     'consumers': [_uuid(2001), _uuid(2002)],
                     'project': 'keep-project'}

        self.replenish()
        return fuzz.Vocabulary(
            uuids=PLAY_ROOTS + [PLAY_CHILD, _uuid(4040)],
            consumers=PLAY_CONSUMERS + [_uuid(4041)],
            classes=PLAY_CLASSES + ['VCPU', 'MEMORY_MB', 'DISK_GB',
                                    'CUSTOM_PLAY_NEW'],
            traits=PLAY_TRAITS + ['CUSTOM_PLAY_NEW', 'HW_CPU_X86_SSE'],
            aggregates=PLAY_AGGREGATES + [_uuid(1199)],
            projects=['play-p', 'keep-project', 'nobody'])

    def replenish(self):
        """(Re)create the playground the fuzzer is pointed at: whatever
        valid requests deleted comes back, with the same names."""
        for name in PLAY_CLASSES:
            self.call('PUT', '/resource_classes/' + name)
        for name in PLAY_TRAITS:
            self.call('PUT', '/traits/' + name)
        inventories = {'VCPU': {'total': 8}, 'MEMORY_MB': {'total': 4096},
                       PLAY_CLASSES[0]: {'total': 10, 'max_unit': 5}}
        for i, u in enumerate(PLAY_ROOTS):
            self._play_provider(u, None, inventories, PLAY_TRAITS[:i % 3],
                                PLAY_AGGREGATES[:i % 3])
        self._play_provider(PLAY_CHILD, PLAY_ROOTS[0],
                            {PLAY_CLASSES[1]: {'total': 3}}, (), ())
        status, data = self.call('GET', '/allocations/' + PLAY_CONSUMERS[0])
        if status == 200 and not data['allocations']:
            self.call('PUT', '/allocations/' + PLAY_CONSUMERS[0], {
                'allocations': {PLAY_ROOTS[1]: {'resources': {'VCPU': 1}}},
                'project_id': 'play-p', 'user_id': 'play-u',
                'consumer_generation': None, 'consumer_type': 'INSTANCE'})

    def _play_provider(self, u, parent, inventories, traits, aggregates):
        status, rp = self.call('GET', '/resource_providers/' + u)
        if status == 404:
            body = {'name': 'play-' + u, 'uuid': u}
            if parent:
                body['parent_provider_uuid'] = parent
            status, rp = self.call('POST', '/resource_providers', body)
            if status != 200:
                return
        path = '/resource_providers/%s' % u
        for suffix, key, value in (
                ('/inventories', 'inventories', inventories),
                ('/traits', 'traits', list(traits)),
                ('/aggregates', 'aggregates', list(aggregates))):
            status, data = self.call('GET', path + suffix)
            if status == 200 and not data[key] and value:
                self.call('PUT', path + suffix, {
                    'resource_provider_generation':
                        data['resource_provider_generation'],
                    key: value})

    # --------------------------------------------------------- readback

    def snapshot(self):
        """Every read of the protected dataset, at 1.0, 1.14 and latest."""
        paths = []
        for u in self.kept['providers']:
            base_path = '/resource_providers/%s' % u
            paths += [base_path + suffix for suffix in (
                '', '/inventories', '/inventories/VCPU', '/usages',
                '/aggregates', '/traits', '/allocations')]
        paths += ['/allocations/%s' % c for c in self.kept['consumers']]
        paths += ['/usages?project_id=%s' % self.kept['project'],
                  '/traits/' + KEEP_TRAIT, '/resource_classes/VCPU']
        reads = {}
        for version in ('1.0', '1.14', 'latest'):
            for path in paths:
                status, data = self.call('GET', path, version=version)
                for error in (data or {}).get('errors', ()):
                    error.pop('request_id')
                reads[(version, path)] = (status, data)
        return reads

    def check_everything_serialises(self):
        """Every stored value, through the API and in the tables, is
        strict JSON (no NaN/Infinity, no lone surrogate)."""
        problems = []

        def read(path):
            resp = base.app_request(self.app, 'GET', path)
            if resp.status_int != 200:
                problems.append('%s: %s %s' % (path, resp.status_int,
                                               resp.body[:300]))
                return None
            try:
                return fuzz.strict_json(resp.body)
            except ValueError as exc:
                problems.append('%s: %s' % (path, exc))
                return None

        providers = read('/resource_providers') or {'resource_providers': []}
        for rp in providers['resource_providers']:
            for suffix in ('', '/inventories', '/usages', '/aggregates',
                           '/traits', '/allocations'):
                read('/resource_providers/%s%s' % (rp['uuid'], suffix))
        read('/resource_classes')
        read('/traits')
        with self.db.engine.connect() as conn:
            for consumer in conn.execute(sa.select(models.CONSUMER.c.uuid)):
                read('/allocations/%s' % urllib.parse.quote(consumer[0]))
            for project in conn.execute(
                    sa.select(models.PROJECT.c.external_id)):
                read('/usages?project_id=%s' % urllib.parse.quote(
                    project[0].encode('utf-8', 'surrogatepass'), safe=''))
            for table in models.BASE.metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for column, value in row._mapping.items():
                        if isinstance(value, (str, float)):
                            try:
                                json.dumps(value, allow_nan=False).encode(
                                    'utf-8')
                                if isinstance(value, str):
                                    value.encode('utf-8')
                            except (ValueError, UnicodeError) as exc:
                                problems.append('%s.%s: %r (%s)' % (
                                    table.name, column, value, exc))
        return problems

    # ------------------------------------------------------------- test

    def test_fuzz(self):
        vocabulary = self.seed()
        before = self.snapshot()
        report = fuzz.Fuzzer(self.app, vocabulary,
                             replenish=self.replenish).run(REQUESTS)
        summary = report.summary(self.backend)
        # The figure, visible in the test run's output.
        sys.stderr.write(summary + '\n')
        self.addDetail('fuzz', _text(summary))
        examples = '\n'.join('%s\n    %r' % (problem, request)
                             for problem, request, _r in report.failures[:20])
        self.assertEqual(REQUESTS, report.requests, summary)
        self.assertEqual(0, report.server_errors,
                         '%s\n%s' % (summary, examples))
        self.assertEqual([], report.failures[:20],
                         '%s\n%s' % (summary, examples))
        after = self.snapshot()
        changed = {key: (before[key], after[key]) for key in before
                   if before[key] != after[key]}
        self.assertEqual({}, changed)
        self.assertEqual([], self.check_everything_serialises())


def _text(value):
    from testtools import content
    return content.text_content(value)


fixtures.for_each_backend(globals(), _Fuzz)
