"""The ``explain`` member of GET /allocation_candidates on every backend:
sharing providers in the one-tree step, nested trees, and the bound on
the providers examined."""

from unittest import mock
import uuid

from oslo_serialization import jsonutils
import webob

from placement import deploy
from placement.objects import candidate_explain
from placement.tests.db import test_allocation_candidate as base
from placement.tests import fixtures


class _Explain(object):

    def setUp(self):
        super().setUp()
        self.agg_x = str(uuid.uuid4())
        self.agg_y = str(uuid.uuid4())

    build = base._AllocationCandidates.build
    numa_setup = base._AllocationCandidates.numa_setup

    def get(self, query, version='1.36'):
        app = deploy.loadapp(self.conf)
        req = webob.Request.blank(
            '/allocation_candidates?' + query,
            headers={'x-auth-token': 'admin', 'accept': 'application/json',
                     'openstack-api-version': 'placement ' + version,
                     candidate_explain.HEADER: '1'})
        resp = req.get_response(app)
        self.assertEqual(200, resp.status_int, resp.text)
        return jsonutils.loads(resp.body)

    def explain(self, query):
        return self.get(query)['explain']

    @staticmethod
    def funnel(group):
        return [step['providers'] for step in group['funnel']]

    def test_sharing_provider_covers_a_tree(self):
        self.build(base.gabbit_fixtures._setup_a(self.agg_x))
        data = self.get('resources=VCPU:1,DISK_GB:10')
        self.assertEqual(3, len(data['allocation_requests']))
        explain = data['explain']
        # CN1 has no disk but SS lends it through aggregate X.
        self.assertEqual([3, 3, 3, 3, 3, 3],
                         self.funnel(explain['groups'][0]))
        # CN1, CN2 and SS itself (a sharing provider anchors its own tree).
        self.assertEqual(3, explain['trees_with_every_group'])
        self.assertEqual(3, explain['candidates'])

    def test_without_sharing_a_diskless_tree_drops_out(self):
        self.build(base.gabbit_fixtures._setup_a(self.agg_x))
        explain = self.explain(
            'resources=VCPU:1,DISK_GB:2000')
        # Nobody has 2000 GB: only VCPU can be served, by CN1 and CN2,
        # and no tree covers both classes.
        self.assertEqual([3, 2, 0, 0, 0, 0],
                         self.funnel(explain['groups'][0]))
        self.assertEqual(
            {'with_inventory': 2, 'with_capacity': 0,
             'exhausted': {'capacity': 0, 'constraints': 2}},
            explain['groups'][0]['resource_classes']['DISK_GB'])

    def test_nested_same_subtree(self):
        self.numa_setup()
        explain = self.explain(
            'resources_C=VCPU:1&resources_A=FPGA:1&group_policy=none'
            '&same_subtree=_C,_A')
        self.assertEqual(['_A', '_C'],
                         [g['suffix'] for g in explain['groups']])
        self.assertEqual([2, 2, 2, 2, 2, 2],
                         self.funnel(explain['groups'][0]))
        # NUMA0, NUMA1 and the two flat computes have VCPU.
        self.assertEqual(4, self.funnel(explain['groups'][1])[-1])
        self.assertEqual(1, explain['trees_with_every_group'])
        self.assertEqual(2, explain['candidates'])

    def test_root_required_is_the_tree_step(self):
        self.numa_setup()
        explain = self.explain(
            'resources=VCPU:1&root_required=COMPUTE_VOLUME_MULTI_ATTACH')
        self.assertEqual(2, explain['groups'][0]['funnel'][-1]['providers'])
        self.assertEqual(2, explain['candidates'])

    def test_examined_providers_are_bounded(self):
        self.build([{'name': 'cn%d' % i, 'inventory': {'VCPU': 4}}
                    for i in range(5)])
        with mock.patch.object(candidate_explain, 'MAX_PROVIDERS', 3):
            explain = self.explain('resources=VCPU:8')
        self.assertTrue(explain['truncated'])
        self.assertEqual(3, explain['providers_examined'])
        self.assertEqual(3, explain['groups'][0]['funnel'][0]['providers'])
        self.assertEqual(3, len(explain['nearest_misses']))


fixtures.for_each_backend(globals(), _Explain)
