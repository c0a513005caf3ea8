"""DB-level tests of traits on every backend: provider trait sets bump the
generation only when they change, yet racing writers on one generation
never both win; racing creators of one trait agree."""

import sqlalchemy as sa

from placement.db import models
from placement import exception
from placement.objects import trait as trait_obj
from placement.tests.db import test_inventory
from placement.tests import fixtures

THREADS = test_inventory.THREADS


class _Traits(test_inventory._Base):

    def setUp(self):
        super().setUp()
        self.ids = {}
        for n in range(THREADS):
            name = 'CUSTOM_T%d' % n
            trait_obj.ensure(self.ctx, name)
            self.ids[name] = trait_obj.get_by_name(self.ctx, name).id

    def traits(self, rp):
        return [row.name for row in
                trait_obj.get_for_provider(self.new_ctx(), rp.id)]

    def test_set_bumps_only_on_change(self):
        rp = self.provider()
        ids = [self.ids['CUSTOM_T1'], self.ids['CUSTOM_T0']]
        self.assertEqual(1, trait_obj.set_for_provider(self.ctx, rp.id, 0,
                                                       ids))
        self.assertEqual(1, trait_obj.set_for_provider(self.ctx, rp.id, 1,
                                                       ids))
        self.assertEqual(1, self.generation(rp))
        # The unchanged path still verifies the generation.
        self.assertRaises(exception.ConcurrentUpdateDetected,
                          trait_obj.set_for_provider, self.ctx, rp.id, 0,
                          ids)
        self.assertEqual(['CUSTOM_T0', 'CUSTOM_T1'], self.traits(rp))
        self.assertEqual(2, trait_obj.delete_for_provider(self.ctx, rp.id, 1))
        self.assertEqual(2, trait_obj.delete_for_provider(self.ctx, rp.id, 2))
        self.assertEqual([], self.traits(rp))
        self.assertEqual(2, self.generation(rp))

    def test_race_different_sets(self):
        rp = self.provider()
        results = self.race([
            (lambda ctx, n=n: trait_obj.set_for_provider(
                ctx, rp.id, 0, [self.ids['CUSTOM_T%d' % n]]))
            for n in range(THREADS)])
        winner = self.assertOneWins(results)
        self.assertEqual(['CUSTOM_T%d' % winner], self.traits(rp))
        self.assertEqual(1, self.generation(rp))

    def test_race_same_new_set(self):
        # The first writer changes the set; any later one either sees the
        # old set (and loses the compare-and-set) or the new set with a
        # stale generation: exactly one success.
        rp = self.provider()
        ids = list(self.ids.values())
        results = self.race(
            [lambda ctx: trait_obj.set_for_provider(ctx, rp.id, 0, ids)]
            * THREADS)
        self.assertOneWins(results)
        self.assertEqual(sorted(self.ids), sorted(self.traits(rp)))
        self.assertEqual(1, self.generation(rp))

    def test_race_unchanged_set_all_succeed(self):
        rp = self.provider()
        ids = [self.ids['CUSTOM_T0']]
        trait_obj.set_for_provider(self.ctx, rp.id, 0, ids)
        results = self.race(
            [lambda ctx: trait_obj.set_for_provider(ctx, rp.id, 1, ids)]
            * THREADS)
        self.assertEqual([(1, None)] * THREADS, results)
        self.assertEqual(1, self.generation(rp))

    def test_race_delete_and_set(self):
        rp = self.provider()
        trait_obj.set_for_provider(self.ctx, rp.id, 0,
                                   [self.ids['CUSTOM_T0']])
        funcs = [lambda ctx: trait_obj.delete_for_provider(ctx, rp.id, 1)]
        funcs += [(lambda ctx, n=n: trait_obj.set_for_provider(
            ctx, rp.id, 1, [self.ids['CUSTOM_T%d' % n]]))
            for n in range(1, THREADS)]
        winner = self.assertOneWins(self.race(funcs))
        expected = [] if winner == 0 else ['CUSTOM_T%d' % winner]
        self.assertEqual(expected, self.traits(rp))
        self.assertEqual(2, self.generation(rp))

    def test_race_create_trait(self):
        results = self.race(
            [lambda ctx: trait_obj.ensure(ctx, 'CUSTOM_RACER')[1]] * THREADS)
        self.assertEqual([None] * THREADS, [exc for _r, exc in results])
        self.assertEqual(1, [created for created, _e in results].count(True))
        with self.db.engine.connect() as conn:
            self.assertEqual(1, conn.execute(
                sa.select(sa.func.count()).select_from(models.TRAIT)
                .where(models.TRAIT.c.name == 'CUSTOM_RACER')).scalar())

    def test_delete_trait_rules(self):
        rp = self.provider()
        trait_obj.set_for_provider(self.ctx, rp.id, 0,
                                   [self.ids['CUSTOM_T0']])
        self.assertRaises(trait_obj.TraitInUse,
                          trait_obj.delete, self.ctx, 'CUSTOM_T0')
        self.assertRaises(trait_obj.TraitCannotDeleteStandard,
                          trait_obj.delete, self.ctx, 'HW_CPU_X86_SSE')
        self.assertRaises(exception.TraitNotFound,
                          trait_obj.delete, self.ctx, 'CUSTOM_NOPE')
        trait_obj.delete(self.ctx, 'CUSTOM_T1')
        self.assertRaises(exception.TraitNotFound,
                          trait_obj.get_by_name, self.ctx, 'CUSTOM_T1')

    def test_list_filters(self):
        rp = self.provider()
        trait_obj.set_for_provider(self.ctx, rp.id, 0,
                                   [self.ids['CUSTOM_T2']])
        names = lambda **kw: [r.name for r in trait_obj.get_all(  # noqa
            self.ctx, **kw)]
        self.assertEqual(['CUSTOM_T%d' % n for n in range(THREADS)],
                         names(prefix='CUSTOM_'))
        self.assertEqual([], names(prefix='CUSTOM%'))
        self.assertEqual(['CUSTOM_T2'], names(associated=True))
        self.assertEqual(['CUSTOM_T0', 'CUSTOM_T1'],
                         names(names=['CUSTOM_T1', 'CUSTOM_T0', 'CUSTOM_T2'],
                               associated=False))


fixtures.for_each_backend(globals(), _Traits)
