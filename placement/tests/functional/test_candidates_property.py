"""Property tests: the allocation candidate search (SQL research context +
pruned in-memory engine) against a brute-force reference written
straight from the spec, on small random provider trees stored in SQLite.

The reference enumerates, per anchor root, every combination of partial
results of every group and filters them; the real search must return
exactly the same set of (allocations, mappings), and with ``limit`` /
``max_allocation_candidates`` a subset of the right size.
"""

import itertools
from unittest import mock
import uuid

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import sqlalchemy as sa
import testtools

from placement import context
from placement.db import api as db_api
from placement.db import models
from placement.objects import allocation_candidate as ac_obj
from placement.objects import candidate_engine as engine
from placement.objects import research_context as research
from placement.objects import resource_class as rc_obj
from placement.tests import fixtures
from placement.tests.functional.fixtures import gabbits as gabbit_fixtures

RCS = ['VCPU', 'MEMORY_MB', 'DISK_GB']
TRAITS = ['CUSTOM_T1', 'CUSTOM_T2', research.SHARING_TRAIT]
AGGS = [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]


# ------------------------------------------------------------ generation

def _rarely(draw):
    """True one time in four: constraints stay rare enough that most
    generated requests have candidates."""
    return draw(st.integers(0, 3)) == 3


@st.composite
def environments(draw):
    count = draw(st.integers(1, 7))
    providers = []
    for i in range(count):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) \
            if i else None
        inventory = {}
        used = {}
        for rc in draw(st.lists(st.sampled_from(RCS), unique=True,
                                min_size=0 if _rarely(draw) else 1)):
            total = draw(st.integers(1, 4))
            inventory[rc] = {'total': total,
                             'max_unit': draw(st.integers(1, total))}
            if _rarely(draw):
                used[rc] = draw(st.integers(1, total))
        providers.append({
            'name': 'p%d' % i,
            'parent': None if parent is None else 'p%d' % parent,
            'inventory': inventory, 'used': used,
            'traits': draw(st.lists(st.sampled_from(TRAITS), unique=True)),
            'aggregates': draw(st.lists(st.sampled_from(AGGS), unique=True)),
        })
    return providers


@st.composite
def groups(draw, names):
    def maybe(strategy, empty):
        return draw(strategy) if _rarely(draw) else empty

    one_trait = st.lists(st.sampled_from(TRAITS), unique=True, min_size=1,
                         max_size=1)
    result = {}
    suffixes = [''] + draw(st.lists(st.sampled_from(['1', '2', '3']),
                                    unique=True, max_size=2))
    for suffix in suffixes:
        resources = {rc: draw(st.integers(1, 2)) if _rarely(draw) else 1
                     for rc in draw(
            st.lists(st.sampled_from(RCS), unique=True,
                     min_size=1 if not suffix or not _rarely(draw) else 0,
                     max_size=2))}
        required = [set(t) for t in maybe(st.lists(
            st.lists(st.sampled_from(TRAITS), unique=True, min_size=1,
                     max_size=2), min_size=1, max_size=2), [])]
        forbidden = set(maybe(one_trait, []))
        if any(term <= forbidden for term in required):
            forbidden = set()
        member_of = [set(m) for m in maybe(st.lists(
            st.lists(st.sampled_from(AGGS), unique=True, min_size=1),
            min_size=1, max_size=2), [])]
        forbidden_aggs = set(maybe(st.lists(st.sampled_from(AGGS),
                                            unique=True, min_size=1), []))
        in_tree = maybe(st.sampled_from(names), None)
        if not resources and not (required or member_of):
            required = [{'CUSTOM_T1'}]
        result[suffix] = dict(resources=resources, required=required,
                              forbidden=forbidden, member_of=member_of,
                              forbidden_aggs=forbidden_aggs, in_tree=in_tree)
    resourceless = [s for s, g in result.items() if not g['resources']]
    same_subtree = []
    if len(result) > 1 and draw(st.booleans()):
        same_subtree.append(draw(st.lists(
            st.sampled_from([s for s in result if s]), unique=True,
            min_size=1)))
    for s in resourceless:
        if not any(s in sub for sub in same_subtree):
            same_subtree.append([s, '1'] if s != '1' and '1' in result
                                else [s])
    return dict(groups=result, same_subtree=same_subtree,
                isolate=draw(st.booleans()),
                multi=not _rarely(draw),
                root_required=set(maybe(one_trait, [])),
                root_forbidden=set(maybe(one_trait, [])))


@st.composite
def cases(draw):
    env = draw(environments())
    request = draw(groups([p['name'] for p in env]))
    request['root_forbidden'] -= request['root_required']
    return env, request


# ------------------------------------------------------------- reference

class _Env(object):

    def __init__(self, specs):
        self.p = {s['name']: s for s in specs}
        self.order = [s['name'] for s in specs]

    def root(self, name):
        while self.p[name]['parent']:
            name = self.p[name]['parent']
        return name

    def sharing(self, name):
        return research.SHARING_TRAIT in self.p[name]['traits']

    def aggs(self, name):
        return set(self.p[name]['aggregates'])

    def traits(self, name):
        return set(self.p[name]['traits'])

    def inv(self, name, rc):
        inv = self.p[name]['inventory'].get(rc)
        if inv is None:
            return None
        return inv['total'], self.p[name]['used'].get(rc, 0), \
            inv['max_unit']

    def fits(self, name, rc, amount):
        inv = self.inv(name, rc)
        return inv is not None and inv[1] + amount <= inv[0] and \
            1 <= amount <= inv[2]

    def ancestors(self, name):
        chain = [name]
        while self.p[name]['parent']:
            name = self.p[name]['parent']
            chain.append(name)
        return chain


def reference(specs, request):
    env = _Env(specs)
    results = set()
    roots = [n for n in env.order if not env.p[n]['parent']]
    for anchor in roots:
        rt = env.traits(anchor)
        if not (request['root_required'] <= rt) or \
                rt & request['root_forbidden']:
            continue
        members = [n for n in env.order if env.root(n) == anchor]
        tree_aggs = set().union(*[env.aggs(n) for n in members])
        foreign = [n for n in env.order if env.sharing(n) and
                   env.root(n) != anchor and env.aggs(n) & tree_aggs]
        partials = []
        for suffix, g in sorted(request['groups'].items()):
            tree_root = env.root(g['in_tree']) if g['in_tree'] else None
            options = []
            if suffix == '' and g['resources']:
                def eligible(n):
                    if env.traits(n) & g['forbidden']:
                        return False
                    if tree_root and env.root(n) != tree_root:
                        return False
                    pos = env.aggs(n) if env.sharing(n) else \
                        env.aggs(n) | env.aggs(env.root(n))
                    if not all(pos & m for m in g['member_of']):
                        return False
                    near = env.aggs(n) | env.aggs(env.root(n)) | \
                        env.aggs(anchor)
                    return not (near & g['forbidden_aggs'])
                rcs = sorted(g['resources'])
                lists = [[n for n in members + foreign if eligible(n) and
                          env.fits(n, rc, g['resources'][rc])]
                         for rc in rcs]
                for combo in itertools.product(*lists):
                    traits = set().union(*[env.traits(n) for n in combo])
                    if all(traits & t for t in g['required']):
                        options.append((
                            [(n, rc, g['resources'][rc])
                             for n, rc in zip(combo, rcs)],
                            sorted(set(combo), key=env.order.index)))
            else:
                if not g['resources'] and not (g['required'] or
                                               g['member_of']):
                    pass
                pool = members + foreign if g['resources'] else members
                for n in pool:
                    if tree_root and env.root(n) != tree_root:
                        continue
                    t = env.traits(n)
                    if t & g['forbidden'] or \
                            not all(t & r for r in g['required']):
                        continue
                    a = env.aggs(n)
                    if not all(a & m for m in g['member_of']) or \
                            a & g['forbidden_aggs']:
                        continue
                    if not all(env.fits(n, rc, amt)
                               for rc, amt in g['resources'].items()):
                        continue
                    options.append(([(n, rc, amt) for rc, amt in
                                     g['resources'].items()], [n]))
            partials.append((suffix, options))
        for combo in itertools.product(*[o for _s, o in partials]):
            mappings = {s: part[1] for (s, _o), part in zip(partials, combo)}
            if request['isolate']:
                chosen = [mappings[s][0] for s in mappings if s]
                if len(chosen) != len(set(chosen)):
                    continue
            ok = True
            for sub in request['same_subtree']:
                pids = {n for s in sub for n in mappings[s]}
                if not any(all(top in env.ancestors(o) for o in pids)
                           for top in pids):
                    ok = False
            if not ok:
                continue
            sums = {}
            for part in combo:
                for n, rc, amt in part[0]:
                    sums[(n, rc)] = sums.get((n, rc), 0) + amt
            if any(env.inv(n, rc)[1] + amt > env.inv(n, rc)[0] or
                   amt > env.inv(n, rc)[2] for (n, rc), amt in sums.items()):
                continue
            used = {n for m in mappings.values() for n in m} | \
                {n for n, _rc in sums}
            if not request['multi']:
                trees = [env.root(n) for n in used]
                if len(trees) != len(set(trees)):
                    continue
            if not any(n in members for n in used):
                continue
            results.add(_key(sums, mappings))
    return results


def _key(sums, mappings):
    return (frozenset((n, rc, amt) for (n, rc), amt in sums.items()),
            frozenset((s, tuple(p)) for s, p in mappings.items()))


# ------------------------------------------------------------------ tests

class CandidateSearchProperties(testtools.TestCase):

    def setUp(self):
        super().setUp()
        conf = self.useFixture(fixtures.ConfFixture()).conf
        self.useFixture(fixtures.Database(conf, 'sqlite'))
        self.ctx = context.RequestContext(config=conf)

    def _clear_db(self):
        with db_api.context_manager.writer.using(self.ctx):
            for table in (models.ALLOC, models.INV, models.RP_TRAIT,
                          models.RP_AGG):
                self.ctx.session.execute(sa.delete(table))
            self.ctx.session.execute(sa.update(models.RP).values(
                parent_provider_id=None, root_provider_id=None))
            self.ctx.session.execute(sa.delete(models.RP))

    def _search(self, specs, request, **kw):
        self._clear_db()
        uuids = gabbit_fixtures.build_providers(specs)
        names = {u: n for n, u in uuids.items()}
        with db_api.context_manager.reader.using(self.ctx):
            s = self.ctx.session
            trait_ids = dict(s.execute(sa.select(models.TRAIT.c.name,
                                                 models.TRAIT.c.id)).all())
            agg_ids = dict(s.execute(sa.select(models.AGG.c.uuid,
                                               models.AGG.c.id)).all())
            roots = dict(s.execute(sa.select(
                models.RP.c.uuid, models.RP.c.root_provider_id)).all())
        rc_ids = {rc: rc_obj.id_from_name(self.ctx, rc) for rc in RCS}
        rc_names = {i: n for n, i in rc_ids.items()}
        missing_trait = -1

        def tids(names_):
            return {trait_ids.get(t, missing_trait) for t in names_}

        egroups = []
        for suffix, g in request['groups'].items():
            egroups.append(engine.Group(
                suffix=suffix,
                resources={rc_ids[rc]: a for rc, a in g['resources'].items()},
                required=[tids(t) for t in g['required']],
                forbidden=tids(g['forbidden']) - {missing_trait},
                member_of=[{agg_ids[a] for a in m if a in agg_ids}
                           for m in g['member_of']],
                forbidden_aggs={agg_ids[a] for a in g['forbidden_aggs']
                                if a in agg_ids},
                in_tree_root=roots[uuids[g['in_tree']]]
                if g['in_tree'] else None))
        ereq = engine.Request(
            egroups, isolate=request['isolate'],
            same_subtree=request['same_subtree'],
            multi_provider_trees=request['multi'],
            root_required=tids(request['root_required']),
            root_forbidden=tids(request['root_forbidden']) - {missing_trait})
        result = ac_obj.find(self.ctx, ereq, **kw)
        by_id = result.providers
        found = []
        for cand in result.candidates:
            sums = {(names[by_id[pid].uuid], rc_names[rc]): amt
                    for pid, res in cand.allocations.items()
                    for rc, amt in res.items()}
            mappings = {s: [names[by_id[pid].uuid] for pid in pids]
                        for s, pids in cand.mappings.items()}
            found.append(_key(sums, mappings))
        return found

    @settings(max_examples=60, deadline=None)
    @given(cases())
    def test_same_candidates_as_reference(self, case):
        specs, request = case
        expected = reference(specs, request)
        found = self._search(specs, request)
        self.assertEqual(len(found), len(set(found)), 'duplicates')
        self.assertEqual(expected, set(found))

    @settings(max_examples=60, deadline=None)
    @given(cases(), st.sampled_from([ac_obj.EVERY_TREE, ac_obj.HOLDING_TREES,
                                     ac_obj.MATCHING_TREES]))
    def test_every_way_of_reading_trees_gives_the_same(self, case, reads):
        """A whole answer, whichever trees it reads first."""
        specs, request = case
        expected = reference(specs, request)
        with mock.patch.object(ac_obj, '_whole_answer_reads',
                               return_value=reads):
            found = self._search(specs, request)
        self.assertEqual(expected, set(found))

    @settings(max_examples=40, deadline=None)
    @given(cases(), st.integers(1, 3), st.integers(-1, 3),
           st.sampled_from(['depth-first', 'breadth-first']))
    def test_bounded_search_is_a_subset(self, case, limit, cap, strategy):
        specs, request = case
        expected = reference(specs, request)
        found = self._search(specs, request, limit=limit,
                             max_candidates=cap, strategy=strategy)
        bound = len(expected) if cap < 0 else min(cap, len(expected))
        self.assertEqual(min(limit, bound), len(found))
        self.assertTrue(set(found) <= expected)
