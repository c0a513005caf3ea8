"""The in-memory candidate search: bounded work and pruning of
interchangeable providers (no database)."""

import itertools

import testtools

from placement.objects import candidate_engine as engine

UNIT = 1   # a resource class id


def _wide(children, used=()):
    """A root with ``children`` identical one-unit children."""
    root = engine.Provider(1, 'root', None, 1)
    kids = []
    for i in range(children):
        inv = engine.Inventory(1, 1 if i in used else 0, 1, 1, 1)
        kids.append(engine.Provider(i + 2, 'c%d' % i, 1, 1,
                                    inventories={UNIT: inv}))
    providers = [root] + kids
    engine.mark_leaves(providers)
    return providers


def _request(groups, isolate):
    return engine.Request(
        [engine.Group(str(g), {UNIT: 1}) for g in range(1, groups + 1)],
        isolate=isolate)


class EngineTest(testtools.TestCase):

    def _run(self, providers, request, take=None):
        by_id = {p.id: p for p in providers}
        anchors = [(providers[0].root_id, providers, [], by_id)]
        return list(itertools.islice(engine.generate(request, anchors),
                                     take))

    def _count_takes(self):
        calls = []
        original = engine._Walk._take

        def counting(walk, *args):
            calls.append(1)
            return original(walk, *args)
        self.patch(engine._Walk, '_take', counting)
        return calls

    def test_all_distinct_mappings(self):
        found = self._run(_wide(3), _request(3, isolate=True))
        # 3! assignments: same allocations, different mappings.
        self.assertEqual(6, len(found))
        self.assertEqual(6, len({c.key() for c in found}))
        self.assertEqual(1, len({frozenset(c.allocations) for c in found}))

    def test_limit_bounds_the_walk(self):
        calls = self._count_takes()
        found = self._run(_wide(8), _request(8, isolate=False), take=10)
        self.assertEqual(10, len(found))
        # Far from the 8! complete assignments.
        self.assertLess(len(calls), 500)

    def test_identical_children_do_not_multiply_failure(self):
        calls = self._count_takes()
        found = self._run(_wide(12), _request(13, isolate=True))
        self.assertEqual([], found)
        # Without pruning this explores ~12! / k! partial assignments.
        self.assertLess(len(calls), 2000)

    def test_used_children_differ_from_free_ones(self):
        found = self._run(_wide(4, used={0, 1}), _request(2, isolate=True))
        self.assertEqual(2, len(found))
        for cand in found:
            self.assertEqual({4, 5}, set(cand.allocations))

    def test_one_provider_per_tree_below_1_29(self):
        request = _request(2, isolate=False)
        request.multi_provider_trees = False
        self.assertEqual([], self._run(_wide(3), request))

    def test_lone_provider_fast_path(self):
        p = engine.Provider(
            7, 'cn', None, 7,
            inventories={UNIT: engine.Inventory(2, 1, 1, 2, 1)},
            traits=frozenset([5]))
        engine.mark_leaves([p])
        by_id = {7: p}
        ok = engine.Request([engine.Group('', {UNIT: 1}, required=[{5}])])
        full = engine.Request([engine.Group('', {UNIT: 1}),
                               engine.Group('1', {UNIT: 1})])
        isolated = engine.Request([engine.Group('1', {UNIT: 1}),
                                   engine.Group('2', {UNIT: 1})],
                                  isolate=True)
        found = self._run([p], ok)
        self.assertEqual([{7: {UNIT: 1}}], [c.allocations for c in found])
        self.assertEqual({'': [7]}, found[0].mappings)
        self.assertEqual([], list(engine.generate(full, [(7, [p], [],
                                                          by_id)])))
        self.assertEqual([], list(engine.generate(isolated, [(7, [p], [],
                                                              by_id)])))
