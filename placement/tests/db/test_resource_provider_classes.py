"""DB-level tests of custom resource classes on every backend: id
allocation, races between creators, rename and delete rules."""

import threading

import sqlalchemy as sa

from placement import context
from placement.db import models
from placement import exception
from placement.objects import resource_class as rc_obj
from placement.tests import fixtures


class _Classes(object):

    def test_custom_ids_start_at_10000(self):
        rc_obj.create(self.ctx, 'CUSTOM_A')
        rc_obj.create(self.ctx, 'CUSTOM_B')
        self.assertEqual(10000, rc_obj.id_from_name(self.ctx, 'CUSTOM_A'))
        self.assertEqual(10001, rc_obj.id_from_name(self.ctx, 'CUSTOM_B'))

    def test_next_id_is_max_plus_one(self):
        with self.db.engine.begin() as conn:
            conn.execute(sa.insert(models.RC).values(id=10041,
                                                     name='CUSTOM_OLD'))
        rc_obj.create(self.ctx, 'CUSTOM_NEW')
        self.assertEqual(10042, rc_obj.id_from_name(self.ctx, 'CUSTOM_NEW'))

    def test_create_existing(self):
        rc_obj.create(self.ctx, 'CUSTOM_A')
        self.assertRaises(rc_obj.ResourceClassExists, rc_obj.create,
                          self.ctx, 'CUSTOM_A')
        self.assertFalse(rc_obj.ensure(self.ctx, 'CUSTOM_A'))
        self.assertTrue(rc_obj.ensure(self.ctx, 'CUSTOM_B'))

    def test_rename(self):
        rc_obj.create(self.ctx, 'CUSTOM_A')
        rc_obj.create(self.ctx, 'CUSTOM_B')
        row = rc_obj.rename(self.ctx, 'CUSTOM_A', 'CUSTOM_C')
        self.assertEqual(('CUSTOM_C', 10000), (row.name, row.id))
        self.assertRaises(rc_obj.ResourceClassExists, rc_obj.rename,
                          self.ctx, 'CUSTOM_C', 'CUSTOM_B')
        self.assertRaises(exception.ResourceClassNotFound, rc_obj.rename,
                          self.ctx, 'CUSTOM_A', 'CUSTOM_D')
        self.assertRaises(rc_obj.ResourceClassIsStandard, rc_obj.rename,
                          self.ctx, 'VCPU', 'CUSTOM_D')

    def test_delete(self):
        rc_obj.create(self.ctx, 'CUSTOM_A')
        rc_obj.create(self.ctx, 'CUSTOM_B')
        with self.db.engine.begin() as conn:
            conn.execute(sa.insert(models.INV).values(
                resource_provider_id=1, resource_class_id=10001, total=1,
                reserved=0, min_unit=1, max_unit=1, step_size=1,
                allocation_ratio=1.0))
        self.assertRaises(rc_obj.ResourceClassInUse, rc_obj.delete,
                          self.ctx, 'CUSTOM_B')
        self.assertRaises(rc_obj.ResourceClassIsStandard, rc_obj.delete,
                          self.ctx, 'VCPU')
        self.assertRaises(exception.ResourceClassNotFound, rc_obj.delete,
                          self.ctx, 'CUSTOM_NOPE')
        rc_obj.delete(self.ctx, 'CUSTOM_A')
        self.assertRaises(exception.ResourceClassNotFound,
                          rc_obj.get_by_name, self.ctx, 'CUSTOM_A')

    def test_racing_creators(self):
        names = ['CUSTOM_R%d' % i for i in range(4)] * 2
        errors = []
        barrier = threading.Barrier(len(names))

        def run(name):
            ctx = context.RequestContext(config=self.conf)
            barrier.wait()
            try:
                with exception.db_races_as_conflict():
                    rc_obj.ensure(ctx, name)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([], errors)
        created = [r.name for r in rc_obj.get_all(self.ctx) if r.id >= 10000]
        self.assertEqual(sorted(set(names)), sorted(created))


fixtures.for_each_backend(globals(), _Classes)
