"""DB-level tests of provider aggregates on every backend: the 1.19
compare-and-set, serialised replacements below 1.19, and race-free
creation of aggregate rows shared by several providers."""

import uuid as uuid_lib

import sqlalchemy as sa

from placement.db import models
from placement.objects import aggregate as agg_obj
from placement.tests.db import test_inventory
from placement.tests import fixtures

THREADS = test_inventory.THREADS


def _uuids(count):
    return [str(uuid_lib.uuid4()) for _n in range(count)]


class _Aggregates(test_inventory._Base):

    def aggregates(self, rp):
        return agg_obj.get_uuids(self.new_ctx(), rp.id)

    def aggregate_rows(self):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(models.AGG.c.uuid)).scalars().all()

    def test_replace_keeps_creation_order(self):
        rp = self.provider()
        a, b, c = _uuids(3)
        self.assertEqual(1, agg_obj.set_for_provider(self.ctx, rp.id, [b, a],
                                                     generation=0))
        self.assertEqual([b, a], self.aggregates(rp))
        # Unchanged set: the generation still moves.
        self.assertEqual(2, agg_obj.set_for_provider(self.ctx, rp.id, [a, b],
                                                     generation=1))
        self.assertIsNone(agg_obj.set_for_provider(self.ctx, rp.id, [c, a]))
        self.assertEqual([a, c], self.aggregates(rp))
        self.assertEqual(2, self.generation(rp))
        agg_obj.set_for_provider(self.ctx, rp.id, [])
        self.assertEqual([], self.aggregates(rp))
        # Aggregate rows are never deleted.
        self.assertEqual(sorted([a, b, c]), sorted(self.aggregate_rows()))

    def test_race_with_generation(self):
        rp = self.provider()
        shared = _uuids(2)
        sets = [shared + _uuids(1) for _n in range(THREADS)]
        results = self.race([
            (lambda ctx, s=s: agg_obj.set_for_provider(ctx, rp.id, s,
                                                       generation=0))
            for s in sets])
        winner = self.assertOneWins(results)
        self.assertEqual(sets[winner], self.aggregates(rp))
        self.assertEqual(1, self.generation(rp))
        rows = self.aggregate_rows()
        self.assertEqual(len(rows), len(set(rows)))

    def test_race_without_generation_never_merges(self):
        rp = self.provider()
        sets = [_uuids(2) for _n in range(THREADS)]
        results = self.race([
            (lambda ctx, s=s: agg_obj.set_for_provider(ctx, rp.id, s))
            for s in sets])
        # Replacements serialise on the provider row: each succeeds (or,
        # if the database gives up waiting, reports a concurrent update)
        # and the final set is exactly one writer's, never a mixture.
        for _result, exc in results:
            if exc is not None:
                self.assertIsInstance(
                    exc, test_inventory.exception.ConcurrentUpdateDetected)
        self.assertIn(self.aggregates(rp), sets)
        self.assertEqual(0, self.generation(rp))

    def test_race_same_new_aggregates_on_many_providers(self):
        providers = [self.provider() for _n in range(THREADS)]
        shared = _uuids(3)
        results = self.race([
            (lambda ctx, rp=rp, n=n: agg_obj.set_for_provider(
                ctx, rp.id, shared[n % 3:] + shared[:n % 3], generation=0))
            for n, rp in enumerate(providers)])
        self.assertEqual([(1, None)] * THREADS, results)
        self.assertEqual(sorted(shared), sorted(self.aggregate_rows()))
        for rp in providers:
            self.assertEqual(sorted(shared), sorted(self.aggregates(rp)))


fixtures.for_each_backend(globals(), _Aggregates)
