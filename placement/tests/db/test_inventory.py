"""DB-level tests of inventories on every backend, above all racing
writers: N threads writing one provider with the same generation → exactly
one wins, the others get ConcurrentUpdateDetected, and the final state is
the winner's."""

import threading
import uuid as uuid_lib

import sqlalchemy as sa

from placement import context
from placement.db import models
from placement import exception
from placement.objects import inventory as inv_obj
from placement.objects import resource_class as rc_obj
from placement.tests import fixtures

VCPU = rc_obj.STANDARDS.index('VCPU')
DISK_GB = rc_obj.STANDARDS.index('DISK_GB')
MEMORY_MB = rc_obj.STANDARDS.index('MEMORY_MB')
THREADS = 6


def record(total, **kw):
    return inv_obj.with_defaults(dict(kw, total=total))


class _Base(object):
    """Rows inserted directly, and a race harness shared by the trait and
    aggregate DB tests."""

    def new_ctx(self):
        return context.RequestContext(user_id='admin', project_id='admin',
                                      roles=['admin'], config=self.conf)

    def provider(self, name=None):
        """A root provider row (as rp_obj.get_by_uuid returns it)."""
        from placement.objects import resource_provider as rp_obj
        uuid = str(uuid_lib.uuid4())
        with self.db.engine.begin() as conn:
            rp_id = conn.execute(sa.insert(models.RP).values(
                uuid=uuid, name=name or uuid, generation=0)
            ).inserted_primary_key[0]
            conn.execute(sa.update(models.RP).where(models.RP.c.id == rp_id)
                         .values(root_provider_id=rp_id))
        return rp_obj.get_by_uuid(self.new_ctx(), uuid)

    def generation(self, rp):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(models.RP.c.generation).where(
                models.RP.c.id == rp.id)).scalar()

    def allocate(self, rp, rc_id, used):
        with self.db.engine.begin() as conn:
            conn.execute(sa.insert(models.ALLOC).values(
                resource_provider_id=rp.id, resource_class_id=rc_id,
                consumer_id=str(uuid_lib.uuid4()), used=used))

    def race(self, funcs):
        """Run ``funcs`` (each given its own fresh context) at once, as
        released by a barrier; return [(result, exception)] in order."""
        results = [None] * len(funcs)
        barrier = threading.Barrier(len(funcs))

        def run(index, func):
            ctx = self.new_ctx()
            barrier.wait()
            try:
                results[index] = (func(ctx), None)
            except Exception as exc:  # recorded for the assertions
                results[index] = (None, exc)

        threads = [threading.Thread(target=run, args=(i, f))
                   for i, f in enumerate(funcs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
            self.assertFalse(thread.is_alive(), 'a racing call outlived 60s')
        return results

    def assertOneWins(self, results):
        """Exactly one success; every failure a ConcurrentUpdateDetected
        (never a database error). Returns the winner's index."""
        winners = [i for i, (_r, exc) in enumerate(results) if exc is None]
        self.assertEqual(1, len(winners), results)
        for _result, exc in results:
            if exc is not None:
                self.assertIsInstance(exc, exception.ConcurrentUpdateDetected,
                                      results)
        return winners[0]


class _Inventory(_Base):

    def inventory(self, rp):
        return {name: (row.total, row.reserved)
                for name, row in inv_obj.get_all(self.new_ctx(), rp.id)}

    def test_replace_all_adds_updates_deletes_in_order(self):
        rp = self.provider()
        gen = inv_obj.replace_all(self.ctx, rp, 0, {
            DISK_GB: record(100), VCPU: record(8), MEMORY_MB: record(512)})
        self.assertEqual(1, gen)
        gen = inv_obj.replace_all(self.ctx, rp, 1, {
            VCPU: record(16, reserved=2), MEMORY_MB: record(512)})
        self.assertEqual(2, gen)
        named = inv_obj.get_all(self.ctx, rp.id)
        # Created DISK_GB, VCPU, MEMORY_MB in that order; DISK_GB is gone.
        self.assertEqual(['VCPU', 'MEMORY_MB'], [n for n, _r in named])
        self.assertEqual({'VCPU': (16, 2), 'MEMORY_MB': (512, 0)},
                         self.inventory(rp))
        self.assertEqual(2, self.generation(rp))

    def test_refused_writes_change_nothing(self):
        rp = self.provider()
        # Missing inventory: the generation bump is rolled back.
        self.assertRaises(inv_obj.InventoryNotFound,
                          inv_obj.update_one, self.ctx, rp, 0, VCPU,
                          record(1))
        self.assertRaises(inv_obj.InventoryNotFound,
                          inv_obj.delete_one, self.ctx, rp, 0, VCPU)
        self.assertEqual(0, self.generation(rp))
        inv_obj.add(self.ctx, rp, 0, VCPU, record(8))
        self.assertRaises(inv_obj.InventoryExists,
                          inv_obj.add, self.ctx, rp, 1, VCPU, record(4))
        # Stale generation.
        for write in (
                lambda: inv_obj.replace_all(self.ctx, rp, 0, {}),
                lambda: inv_obj.update_one(self.ctx, rp, 0, VCPU, record(1)),
                lambda: inv_obj.add(self.ctx, rp, 0, DISK_GB, record(1)),
                lambda: inv_obj.delete_one(self.ctx, rp, 0, VCPU),
                lambda: inv_obj.delete_all(self.ctx, rp, 0)):
            self.assertRaises(exception.ConcurrentUpdateDetected, write)
        self.assertEqual({'VCPU': (8, 0)}, self.inventory(rp))
        self.assertEqual(1, self.generation(rp))

    def test_in_use_lists_classes_in_id_order_and_rolls_back(self):
        rp = self.provider()
        inv_obj.replace_all(self.ctx, rp, 0, {
            DISK_GB: record(100), VCPU: record(8)})
        self.allocate(rp, DISK_GB, 10)
        self.allocate(rp, VCPU, 1)
        exc = self.assertRaises(inv_obj.InventoryInUse,
                                inv_obj.delete_all, self.ctx, rp, 1)
        self.assertIn("Inventory for 'VCPU, DISK_GB' on resource provider "
                      "'%s' in use" % rp.uuid, str(exc))
        self.assertRaises(inv_obj.InventoryInUse,
                          inv_obj.delete_one, self.ctx, rp, 1, VCPU)
        self.assertEqual(1, self.generation(rp))
        self.assertEqual(2, len(self.inventory(rp)))

    def test_race_replace_all(self):
        rp = self.provider()
        results = self.race([
            (lambda ctx, n=n: inv_obj.replace_all(
                ctx, rp, 0, {VCPU: record(n), DISK_GB: record(10 * n)}))
            for n in range(1, THREADS + 1)])
        winner = self.assertOneWins(results) + 1
        self.assertEqual({'VCPU': (winner, 0), 'DISK_GB': (10 * winner, 0)},
                         self.inventory(rp))
        self.assertEqual(1, self.generation(rp))

    def test_race_add_same_class(self):
        rp = self.provider()
        results = self.race([
            (lambda ctx, n=n: inv_obj.add(ctx, rp, 0, VCPU, record(n)))
            for n in range(1, THREADS + 1)])
        winner = self.assertOneWins(results) + 1
        self.assertEqual({'VCPU': (winner, 0)}, self.inventory(rp))
        self.assertEqual(1, self.generation(rp))

    def test_race_update_one(self):
        rp = self.provider()
        inv_obj.add(self.ctx, rp, 0, VCPU, record(1))
        results = self.race([
            (lambda ctx, n=n: inv_obj.update_one(
                ctx, rp, 1, VCPU, record(100 + n)))
            for n in range(THREADS)])
        winner = self.assertOneWins(results)
        self.assertEqual({'VCPU': (100 + winner, 0)}, self.inventory(rp))
        self.assertEqual(2, self.generation(rp))

    def test_race_delete_all_and_replace(self):
        rp = self.provider()
        inv_obj.add(self.ctx, rp, 0, VCPU, record(8))
        funcs = [lambda ctx: inv_obj.delete_all(ctx, rp, 1)] * (THREADS // 2)
        funcs += [lambda ctx: inv_obj.replace_all(
            ctx, rp, 1, {DISK_GB: record(5)})] * (THREADS // 2)
        winner = self.assertOneWins(self.race(funcs))
        expected = {} if winner < THREADS // 2 else {'DISK_GB': (5, 0)}
        self.assertEqual(expected, self.inventory(rp))
        self.assertEqual(2, self.generation(rp))


fixtures.for_each_backend(globals(), _Inventory)
