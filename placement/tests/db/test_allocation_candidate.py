"""GET /allocation_candidates on every database backend: the research
SQL (text with inlined ids, correlated EXISTS, modulo, LIMIT) must give
the same answers on SQLite, MariaDB and PostgreSQL, and the
``[placement]`` candidate options must behave as configured."""

import collections
import contextlib
from unittest import mock
import uuid

from oslo_serialization import jsonutils
import webob

from placement.db import api as db_api
from placement import deploy
from placement.objects import allocation_candidate as ac_obj
from placement.objects import research_context as research
from placement.tests import fixtures
from placement.tests.functional.fixtures import gabbits as gabbit_fixtures


def _two_trees():
    """Two roots, each with two VCPU children (3 and 5 free)."""
    specs = []
    for t in ('t1', 't2'):
        specs.append({'name': t})
        specs += [{'name': '%s%s' % (t, c), 'parent': t,
                   'inventory': {'VCPU': {'total': 4, 'step_size': 1}},
                   'used': {'VCPU': 1}} for c in 'ab']
    return specs


class _Candidates(object):
    """Building clouds and asking for candidates through the API."""

    def setUp(self):
        super().setUp()
        self.agg_x = str(uuid.uuid4())
        self.agg_y = str(uuid.uuid4())

    def build(self, specs):
        self.uuids = gabbit_fixtures.build_providers(specs)
        self.names = {u: n for n, u in self.uuids.items()}

    def get(self, query, version='1.36', status=200, **config):
        for name, value in config.items():
            self.conf.set_override(name, value, group='placement')
        app = deploy.loadapp(self.conf)
        req = webob.Request.blank(
            '/allocation_candidates?' + query,
            headers={'x-auth-token': 'admin', 'accept': 'application/json',
                     'openstack-api-version': 'placement ' + version})
        resp = req.get_response(app)
        self.assertEqual(status, resp.status_int, resp.text)
        return jsonutils.loads(resp.body)

    def candidates(self, data):
        """Each allocation request as sorted (name, rc, amount) tuples."""
        return [tuple(sorted((self.names[u], rc, amount)
                             for u, res in ar['allocations'].items()
                             for rc, amount in res['resources'].items()))
                for ar in data['allocation_requests']]

    def numa_setup(self):
        self.build(gabbit_fixtures._setup_a(self.agg_x) +
                   gabbit_fixtures._setup_b(self.agg_y))

    # Whole answers: requests that read every tree and those that filter
    # trees in SQL first, on trees with sharing, nesting and both kinds
    # of filter.
    WHOLE_QUERIES = (
        'resources=VCPU:1,DISK_GB:10',
        'resources=VCPU:1&member_of={x}',
        'resources=VCPU:1&required=HW_NUMA_ROOT',
        'resources=DISK_GB:10&required=!MISC_SHARES_VIA_AGGREGATE',
        # A term only the sharing provider meets: no tree of a compute
        # node holds it.
        'resources=VCPU:1,DISK_GB:10&required=MISC_SHARES_VIA_AGGREGATE',
        'resources_C=VCPU:1&resources_A=FPGA:1&group_policy=none'
        '&same_subtree=_C,_A',
        'resources=VCPU:1&resources1=SRIOV_NET_VF:1&group_policy=isolate',
        'resources=VCPU:1,SRIOV_NET_VF:1&in_tree={pf1}',
        'resources=VCPU:1&root_required=COMPUTE_VOLUME_MULTI_ATTACH',
    )

    def whole_answers(self):
        return self.answers(self.WHOLE_QUERIES)

    # One unsuffixed group naming aggregates (sharing and nested trees
    # among them).
    MEMBER_QUERIES = (
        'resources=VCPU:1&member_of={x}',
        'resources=VCPU:1,DISK_GB:10&member_of={x}',
        'resources=DISK_GB:10&member_of={y}',
        'resources=VCPU:1,DISK_GB:10&member_of=in:{x},{y}',
        'resources=VCPU:1&member_of={x}&member_of={y}',
    )

    def answers(self, queries, reads=None):
        with mock.patch.object(ac_obj, '_whole_answer_reads',
                               return_value=reads) if reads else \
                contextlib.nullcontext():
            return [self.get(q.format(x=self.agg_x, y=self.agg_y,
                                      pf1=self.uuids.get('pf1')))
                    for q in queries]


class _AllocationCandidates(_Candidates):

    def test_shared_storage(self):
        self.numa_setup()
        found = self.candidates(self.get('resources=VCPU:1,DISK_GB:10'))
        self.assertEqual(
            sorted([(('cn1', 'VCPU', 1), ('ss', 'DISK_GB', 10)),
                    (('cn2', 'VCPU', 1), ('ss', 'DISK_GB', 10)),
                    (('cn2', 'DISK_GB', 10), ('cn2', 'VCPU', 1)),
                    (('cn', 'DISK_GB', 10), ('numa0', 'VCPU', 1)),
                    (('cn', 'DISK_GB', 10), ('numa1', 'VCPU', 1))]),
            sorted(found))

    def test_nested_same_subtree(self):
        self.numa_setup()
        data = self.get('resources_C=VCPU:1&resources_A=FPGA:1'
                        '&group_policy=none&same_subtree=_C,_A')
        self.assertEqual(
            [(('fpga0', 'FPGA', 1), ('numa0', 'VCPU', 1)),
             (('fpga1', 'FPGA', 1), ('numa1', 'VCPU', 1))],
            sorted(self.candidates(data)))
        self.assertEqual(7, len(data['provider_summaries']))

    def test_filters_in_sql(self):
        self.numa_setup()
        self.assertEqual(2, len(self.get(
            'resources=VCPU:1&member_of=%s' % self.agg_y)[
                'allocation_requests']))
        self.assertEqual([], self.get(
            'resources1=VCPU:1&member_of1=%s' % self.agg_y)[
                'allocation_requests'])
        self.assertEqual(2, len(self.get(
            'resources=VCPU:1&root_required=COMPUTE_VOLUME_MULTI_ATTACH')[
                'allocation_requests']))
        self.assertEqual(4, len(self.get(
            'resources=VCPU:1,SRIOV_NET_VF:1&in_tree=%s' %
            self.uuids['pf1'])['allocation_requests']))
        self.assertEqual(2, len(self.get(
            'resources=DISK_GB:1&resources1=SRIOV_NET_VF:1'
            '&required1=CUSTOM_PHYSNET_A&resources2=SRIOV_NET_VF:1'
            '&required2=CUSTOM_PHYSNET_A&group_policy=isolate')[
                'allocation_requests']))

    def test_step_size_and_usage(self):
        self.build([
            {'name': 'a', 'inventory': {'VCPU': {'total': 8,
                                                 'step_size': 2}}},
            {'name': 'b', 'inventory': {'VCPU': 8}, 'used': {'VCPU': 7}},
            {'name': 'c', 'inventory': {'VCPU': {'total': 8,
                                                 'allocation_ratio': 2.0,
                                                 'reserved': 2}},
             'used': {'VCPU': 10}},
        ])
        self.assertEqual([], self.candidates(self.get('resources=VCPU:3')))
        found = self.candidates(self.get('resources=VCPU:2'))
        self.assertEqual([(('a', 'VCPU', 2),), (('c', 'VCPU', 2),)],
                         sorted(found))
        data = self.get('resources=VCPU:1')
        self.assertEqual([(('b', 'VCPU', 1),), (('c', 'VCPU', 1),)],
                         sorted(self.candidates(data)))
        self.assertEqual({'capacity': 12, 'used': 10},
                         data['provider_summaries'][self.uuids['c']][
                             'resources']['VCPU'])

    def test_max_candidates_depth_first(self):
        self.build(_two_trees())
        found = self.candidates(self.get(
            'resources=VCPU:1', max_allocation_candidates=2))
        self.assertEqual([(('t1a', 'VCPU', 1),), (('t1b', 'VCPU', 1),)],
                         found)

    def test_max_candidates_breadth_first(self):
        self.build(_two_trees())
        found = self.candidates(self.get(
            'resources=VCPU:1', max_allocation_candidates=2,
            allocation_candidates_generation_strategy='breadth-first'))
        self.assertEqual([(('t1a', 'VCPU', 1),), (('t2a', 'VCPU', 1),)],
                         found)

    def test_limit_keeps_first_and_summaries_follow(self):
        self.build(_two_trees())
        data = self.get('resources=VCPU:1&limit=2', version='1.29')
        self.assertEqual([(('t1a', 'VCPU', 1),), (('t1b', 'VCPU', 1),)],
                         self.candidates(data))
        self.assertEqual({'t1', 't1a', 't1b'},
                         {self.names[u] for u in data['provider_summaries']})

    def test_bounded_capacity_only_search_past_the_first_window(self):
        # More roots than the first window holds (see _bounded_anchors),
        # the first 140 full: the first candidates come from later
        # windows, in id order, as without the window.
        specs = [{'name': 'r%03d' % n,
                  'inventory': {'VCPU': {'total': 1, 'step_size': 1}},
                  'used': {'VCPU': 1} if n < 140 else {}}
                 for n in range(150)]
        self.build(specs)
        with mock.patch.object(ac_obj, '_capacity_only',
                               return_value=False):
            by_conditions = self.candidates(self.get(
                'resources=VCPU:1&limit=3'))
        found = self.candidates(self.get('resources=VCPU:1&limit=3'))
        self.assertEqual([(('r140', 'VCPU', 1),), (('r141', 'VCPU', 1),),
                          (('r142', 'VCPU', 1),)], found)
        self.assertEqual(by_conditions, found)

    def test_bounded_capacity_only_search_with_sharing_and_trees(self):
        self.numa_setup()
        for limit in (1, 2, 3, 5):
            query = 'resources=VCPU:1,DISK_GB:10&limit=%d' % limit
            with mock.patch.object(ac_obj, '_capacity_only',
                                   return_value=False):
                expected = self.candidates(self.get(query))
            self.assertEqual(expected, self.candidates(self.get(query)))
        self.assertEqual(5, len(expected))

    def test_randomize(self):
        self.build(_two_trees())
        seen = collections.Counter()
        for _ in range(25):
            found = self.candidates(self.get(
                'resources=VCPU:1&limit=1',
                randomize_allocation_candidates=True))
            self.assertEqual(1, len(found))
            seen[found[0]] += 1
        self.assertGreater(len(seen), 1)
        found = self.candidates(self.get(
            'resources=VCPU:1', randomize_allocation_candidates=True))
        self.assertEqual(4, len(found))

    def test_below_1_29_one_provider_per_tree(self):
        self.build(_two_trees())
        self.assertEqual([], self.get('resources=VCPU:4', version='1.28')[
            'allocation_requests'])
        data = self.get('resources1=VCPU:1&resources2=VCPU:1'
                        '&group_policy=none', version='1.28')
        self.assertEqual(
            [(('t1a', 'VCPU', 2),), (('t1b', 'VCPU', 2),),
             (('t2a', 'VCPU', 2),), (('t2b', 'VCPU', 2),)],
            sorted(self.candidates(data)))

    def test_reading_every_tree_or_filtering_gives_the_same_answer(self):
        self.numa_setup()
        expected = self.answers(self.WHOLE_QUERIES, ac_obj.MATCHING_TREES)
        for reads in (ac_obj.EVERY_TREE, ac_obj.HOLDING_TREES):
            self.assertEqual(expected, self.answers(self.WHOLE_QUERIES,
                                                    reads))
        self.assertEqual(expected, self.answers(self.WHOLE_QUERIES))
        self.assertEqual(5, len(expected[0]['allocation_requests']))
        self.assertEqual(
            [(('cn1', 'VCPU', 1), ('ss', 'DISK_GB', 10)),
             (('cn2', 'VCPU', 1), ('ss', 'DISK_GB', 10))],
            sorted(self.candidates(expected[4])))

    def test_reading_the_trees_holding_aggregate_members_gives_the_same(self):
        self.numa_setup()
        expected = self.answers(self.MEMBER_QUERIES, ac_obj.EVERY_TREE)
        for reads in (ac_obj.HOLDING_TREES, ac_obj.MATCHING_TREES, None):
            self.assertEqual(expected, self.answers(self.MEMBER_QUERIES,
                                                    reads))
        self.assertNotEqual([], expected[1]['allocation_requests'])

    def test_recurring_queries_run_as_prepared_statements(self):
        self.numa_setup()
        prepared = []
        real = research._prepared

        def spy(conn, cursor, sql):
            statement = real(conn, cursor, sql)
            prepared.append(statement.startswith('EXECUTE '))
            return statement
        with mock.patch.object(research, '_prepared', side_effect=spy):
            answers = [self.whole_answers() for _ in range(3)]
            self.assertEqual(answers[0], answers[1])
            self.assertEqual(answers[0], answers[2])
            if self.backend == 'postgresql':
                self.assertIn(True, prepared)
            else:
                self.assertEqual([], prepared)
            del prepared[:]
            self.conf.set_override('prepared_statements', False,
                                   group='placement_database')
            self.assertEqual(answers[0], self.whole_answers())
            self.assertEqual([], prepared)


fixtures.for_each_backend(globals(), _AllocationCandidates)


class _KeptTrees(_Candidates):
    """Whole answers keep every tree per process (research.every_tree):
    whatever changes, through any API, the next answer sees it, as a
    fresh read of the trees would; and an unchanged cloud is not read
    again."""

    QUERIES = ('resources=VCPU:1', 'resources=VCPU:1&member_of={x}',
               'resources=VCPU:1&required=CUSTOM_T')

    def setUp(self):
        super().setUp()
        self.build([
            {'name': 'cn1', 'inventory': {'VCPU': 8, 'CUSTOM_A': 4}},
            {'name': 'cn2', 'inventory': {'VCPU': 8},
             'aggregates': [self.agg_x]},
            {'name': 'cn2a', 'parent': 'cn2', 'inventory': {'VCPU': 2},
             'traits': ['CUSTOM_T']}])
        self.app = deploy.loadapp(self.conf)

    def call(self, method, url, body=None, version='1.39', status=None):
        req = webob.Request.blank(url, method=method, headers={
            'x-auth-token': 'admin', 'accept': 'application/json',
            'openstack-api-version': 'placement ' + version})
        if body is not None:
            req.body = jsonutils.dump_as_bytes(body)
            req.content_type = 'application/json'
        resp = req.get_response(self.app)
        if status is not None:
            self.assertEqual(status, resp.status_int, resp.text)
        return jsonutils.loads(resp.body) if resp.body else None

    def generation(self, name):
        return self.call('GET', '/resource_providers/' +
                         self.uuids[name])['generation']

    def kept(self):
        return self.answers(self.QUERIES, ac_obj.EVERY_TREE)

    def assert_seen(self, change):
        """``change`` (a callable) changes the answers, and the kept
        trees give what a fresh read of the trees gives."""
        before = self.kept()
        change()
        after = self.kept()
        self.assertNotEqual(before, after)
        self.assertEqual(
            self.answers(self.QUERIES, ac_obj.MATCHING_TREES), after)

    def test_an_unchanged_cloud_is_not_read_again(self):
        first = self.kept()
        with mock.patch.object(research, '_build',
                               wraps=research._build) as build:
            self.assertEqual(first, self.kept())
        build.assert_not_called()
        self.assertEqual(3, len(first[0]['allocation_requests']))

    def test_usage_moving_between_providers_is_seen(self):
        consumer = '/allocations/' + str(uuid.uuid4())

        def claim(name, generation):
            self.call('PUT', consumer, {
                'allocations': {self.uuids[name]: {'resources': {'VCPU': 8}}},
                'project_id': 'p', 'user_id': 'u',
                'consumer_generation': generation}, version='1.36',
                status=204)
        self.assert_seen(lambda: claim('cn1', None))
        # (The provider left behind keeps its generation.)
        cn1 = self.generation('cn1')
        self.assert_seen(lambda: claim('cn2', 1))
        self.assertEqual(cn1, self.generation('cn1'))
        self.assert_seen(lambda: self.call('DELETE', consumer, status=204))

    def test_aggregates_without_a_generation_are_seen(self):
        cn1 = self.generation('cn1')
        self.assert_seen(lambda: self.call(
            'PUT', '/resource_providers/%s/aggregates' % self.uuids['cn1'],
            [self.agg_x], version='1.1', status=200))
        self.assertEqual(cn1, self.generation('cn1'))

    def test_inventories_traits_and_trees_are_seen(self):
        cn1 = self.uuids['cn1']
        self.assert_seen(lambda: self.call(
            'PUT', '/resource_providers/%s/traits' % cn1,
            {'traits': ['CUSTOM_T'],
             'resource_provider_generation': self.generation('cn1')},
            status=200))
        self.assert_seen(lambda: self.call(
            'PUT', '/resource_providers/%s/inventories/VCPU' % cn1,
            {'total': 1, 'max_unit': 1, 'resource_provider_generation':
             self.generation('cn1')}, status=200))
        new = str(uuid.uuid4())
        self.call('POST', '/resource_providers', {'name': 'cn3', 'uuid': new},
                  status=200)
        self.uuids['cn3'], self.names[new] = new, 'cn3'
        self.assert_seen(lambda: self.call(
            'PUT', '/resource_providers/%s/inventories' % new,
            {'inventories': {'VCPU': {'total': 2}},
             'resource_provider_generation': 0}, status=200))
        self.assert_seen(lambda: self.call(
            'PUT', '/resource_providers/' + new,
            {'name': 'cn3', 'parent_provider_uuid': cn1}, status=200))
        self.assert_seen(lambda: self.call(
            'DELETE', '/resource_providers/' + new, status=204))

    def test_a_renamed_class_is_seen(self):
        self.assert_seen(lambda: self.call(
            'PUT', '/resource_classes/CUSTOM_A', {'name': 'CUSTOM_B'},
            version='1.2', status=200))


fixtures.for_each_backend(globals(), _KeptTrees)


class _PackedStringsCutShort(_Candidates):
    """Only MySQL cuts a GROUP_CONCAT short (at group_concat_max_len or
    max_allowed_packet)."""

    def test_packed_strings_cut_short_are_read_again_as_rows(self):
        self.numa_setup()
        expected = self.whole_answers()

        def short_concat(ctx):
            # Shorter than the packed kinds, longer than one provider's
            # inventories.
            research._raw_rows(ctx, 'SET SESSION group_concat_max_len = 200',
                               fetch=False)
        # (Every pooled connection forgets the short setting afterwards.)
        self.addCleanup(db_api.get_engine().dispose)
        with mock.patch.object(research, '_allow_long_concat',
                               side_effect=short_concat), \
                mock.patch.object(research, '_raw_rows',
                                  wraps=research._raw_rows) as run:
            self.assertEqual(expected, self.whole_answers())
        again = [c for c in run.call_args_list
                 if c.args[1].startswith('SELECT p.id, ')]
        self.assertNotEqual([], again)


fixtures.for_each_backend(globals(), _PackedStringsCutShort,
                          backends=('mysql',))


class _PlannerSettings(object):
    """research.tune() on PostgreSQL: the settings go with the search's
    next statement and end with its transaction."""

    SHOW = ("SELECT current_setting('jit'), current_setting('enable_seqscan'),"
            " current_setting('enable_nestloop')")

    def test_settings_ride_with_the_next_statement_for_one_transaction(self):
        with db_api.context_manager.reader.using(self.ctx):
            research.tune(self.ctx, probes=True)
            self.assertEqual([('off', 'off', 'on')],
                             [tuple(r) for r in research._raw_rows(
                                 self.ctx, self.SHOW)])
            research.tune(self.ctx, hashes=True)
            self.assertEqual([('off', 'off', 'off')],
                             [tuple(r) for r in research._raw_rows(
                                 self.ctx, self.SHOW)])
        with db_api.context_manager.reader.using(self.ctx):
            self.assertEqual([('on', 'on', 'on')],
                             [tuple(r) for r in research._raw_rows(
                                 self.ctx, self.SHOW)])


fixtures.for_each_backend(globals(), _PlannerSettings,
                          backends=('postgresql',))
