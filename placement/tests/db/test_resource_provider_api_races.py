"""Provider and resource-class writes racing through the WSGI app on every
backend: racing creators get one success and 409s (never a 500), and
concurrent re-parenting leaves every provider with its true root."""

import uuid

from placement.tests.db import test_resource_provider
from placement.tests import fixtures
from placement.tests.functional import base

RACERS = 6


class _ApiRaces(base.AppClient):

    def test_same_provider_name(self):
        def create():
            return self.call('POST', '/resource_providers',
                             {'name': 'racer', 'uuid': str(uuid.uuid4())})
        results = self.race([create] * RACERS)
        statuses = sorted(status for status, _data in results)
        self.assertEqual([200] + [409] * (RACERS - 1), statuses, results)
        status, data = self.call('GET', '/resource_providers?name=racer')
        self.assertEqual(1, len(data['resource_providers']))

    def test_same_provider_uuid(self):
        rp_uuid = str(uuid.uuid4())

        def create(index):
            return lambda: self.call('POST', '/resource_providers',
                                     {'name': 'racer%d' % index,
                                      'uuid': rp_uuid}, version='1.19')
        results = self.race([create(i) for i in range(RACERS)])
        statuses = sorted(status for status, _data in results)
        self.assertEqual([201] + [409] * (RACERS - 1), statuses, results)

    def test_same_resource_class(self):
        def post():
            return self.call('POST', '/resource_classes',
                             {'name': 'CUSTOM_RACER'})

        def put():
            return self.call('PUT', '/resource_classes/CUSTOM_OTHER')
        results = self.race([post] * RACERS + [put] * RACERS)
        posts = sorted(s for s, _d in results[:RACERS])
        puts = sorted(s for s, _d in results[RACERS:])
        self.assertEqual([201] + [409] * (RACERS - 1), posts, results)
        self.assertEqual([201] + [204] * (RACERS - 1), puts, results)

    def test_reparenting(self):
        def create(name, parent=None):
            body = {'name': name}
            if parent:
                body['parent_provider_uuid'] = parent
            return self.call('POST', '/resource_providers', body)[1]['uuid']

        roots = [create('root%d' % i) for i in range(3)]
        mids = [create('mid%d' % i, roots[i]) for i in range(3)]
        for i in range(3):
            create('leaf%d' % i, mids[i])

        def move(name, rp_uuid, parent):
            return lambda: self.call(
                'PUT', '/resource_providers/%s' % rp_uuid,
                {'name': name, 'parent_provider_uuid': parent})

        results = self.race([
            move('mid0', mids[0], roots[1]),
            move('mid1', mids[1], mids[2]),
            move('mid2', mids[2], mids[0]),
            move('root0', roots[0], mids[1]),
            move('root2', roots[2], None),
            move('mid1', mids[1], None),
        ])
        for status, data in results:
            self.assertIn(status, (200, 400, 409), data)
        test_resource_provider.check_tree_invariants(self)


fixtures.for_each_backend(globals(), _ApiRaces)
