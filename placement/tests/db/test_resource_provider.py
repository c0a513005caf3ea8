"""DB-level tests of resource providers on every backend: the list filters
(rows inserted directly), tree changes, and races between writers."""

from unittest import mock
import uuid as uuid_lib

from oslo_db import exception as db_exc
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement import exception
from placement.objects import resource_class as rc_obj
from placement.objects import resource_provider as rp_obj
from placement.tests.db import test_inventory
from placement.tests import fixtures

VCPU = rc_obj.STANDARDS.index('VCPU')
DISK_GB = rc_obj.STANDARDS.index('DISK_GB')


def _uuid():
    return str(uuid_lib.uuid4())


def check_tree_invariants(test):
    """Every provider's root is the top of its parent chain (no loops)."""
    with test.db.engine.connect() as conn:
        rows = conn.execute(sa.select(
            models.RP.c.id, models.RP.c.parent_provider_id,
            models.RP.c.root_provider_id)).all()
    by_id = {r.id: r for r in rows}
    for row in rows:
        seen, top = set(), row
        while top.parent_provider_id is not None:
            test.assertNotIn(top.id, seen, 'loop at %s' % row.id)
            seen.add(top.id)
            top = by_id[top.parent_provider_id]
        test.assertEqual(top.id, row.root_provider_id,
                         'provider %s has a stale root' % row.id)


class _Helpers(test_inventory._Base):

    def make(self, name, parent=None):
        return rp_obj.create(self.ctx, _uuid(), name,
                             parent.uuid if parent is not None else None)

    def insert(self, table, **values):
        with self.db.engine.begin() as conn:
            return conn.execute(sa.insert(table).values(**values)
                                ).inserted_primary_key

    def inventory(self, rp, rc_id, total, reserved=0, min_unit=1,
                  max_unit=None, step_size=1, allocation_ratio=1.0):
        self.insert(models.INV, resource_provider_id=rp.id,
                    resource_class_id=rc_id, total=total, reserved=reserved,
                    min_unit=min_unit, max_unit=max_unit or total,
                    step_size=step_size, allocation_ratio=allocation_ratio)

    def allocate(self, rp, rc_id, used):
        self.insert(models.ALLOC, resource_provider_id=rp.id,
                    resource_class_id=rc_id, consumer_id=_uuid(), used=used)

    def _associate(self, rp, table, column, value, link):
        """Associate the provider (through ``link``, a column of the
        association table) with the ``table`` row whose ``column`` is
        ``value``, created if missing; returns that row's id."""
        with self.db.engine.begin() as conn:
            row_id = conn.execute(sa.select(table.c.id).where(
                table.c[column] == value)).scalar()
            if row_id is None:
                row_id = conn.execute(sa.insert(table).values(
                    {column: value})).inserted_primary_key[0]
            conn.execute(sa.insert(link.table).values(
                {'resource_provider_id': rp.id, link.name: row_id}))
        return row_id

    def aggregate(self, rp, agg_uuid):
        return self._associate(rp, models.AGG, 'uuid', agg_uuid,
                               models.RP_AGG.c.aggregate_id)

    def trait(self, rp, name):
        return self._associate(rp, models.TRAIT, 'name', name,
                               models.RP_TRAIT.c.trait_id)

    def names(self, **filters):
        rows = rp_obj.list_providers(self.ctx, rp_obj.ListFilters(**filters))
        return [row.name for row in rows]

    def _run_checks(self, *checks):
        """Several checks on one database (a fresh server database per
        test is slow), wiping providers in between."""
        for check in checks:
            self.wipe()
            check()

    def wipe(self):
        with self.db.engine.begin() as conn:
            for table in (models.ALLOC, models.INV, models.RP_AGG,
                          models.AGG, models.RP_TRAIT):
                conn.execute(sa.delete(table))
            conn.execute(sa.update(models.RP).values(
                root_provider_id=None, parent_provider_id=None))
            conn.execute(sa.delete(models.RP))


class _ListFilters(_Helpers):

    def test_resources(self):
        self._run_checks(self.check_resources_capacity,
                         self.check_resources_min_max_step,
                         self.check_resources_every_class,
                         self.check_resources_per_provider_not_tree)

    def test_aggregates_and_traits(self):
        self._run_checks(self.check_member_of,
                         self.check_member_of_is_not_inherited,
                         self.check_required_traits)

    def test_order_tree_and_all_filters(self):
        self._run_checks(self.check_creation_order, self.check_in_tree,
                         self.check_all_filters_and)

    def check_creation_order(self):
        for name in ('c', 'a', 'b'):
            self.make(name)
        self.assertEqual(['c', 'a', 'b'], self.names())

    def check_resources_capacity(self):
        small = self.make('small')
        big = self.make('big')
        over = self.make('overcommitted')
        self.make('none')
        self.inventory(small, VCPU, 4)
        self.inventory(big, VCPU, 16, reserved=2)
        self.inventory(over, VCPU, 4, max_unit=16, allocation_ratio=4.0)
        self.allocate(small, VCPU, 3)
        self.allocate(small, VCPU, 0)
        self.assertEqual(['small', 'big', 'overcommitted'],
                         self.names(resources={VCPU: 1}))
        self.assertEqual(['big', 'overcommitted'],
                         self.names(resources={VCPU: 2}))
        # (16 - 2) * 1.0 = 14; (4 - 0) * 4.0 = 16
        self.assertEqual(['big', 'overcommitted'],
                         self.names(resources={VCPU: 4}))
        self.assertEqual(['overcommitted'],
                         self.names(resources={VCPU: 15}))

    def check_resources_min_max_step(self):
        rp = self.make('rp')
        self.inventory(rp, DISK_GB, 100, min_unit=10, max_unit=50,
                       step_size=5)
        self.assertEqual([], self.names(resources={DISK_GB: 5}))
        self.assertEqual(['rp'], self.names(resources={DISK_GB: 10}))
        self.assertEqual([], self.names(resources={DISK_GB: 12}))
        self.assertEqual(['rp'], self.names(resources={DISK_GB: 50}))
        self.assertEqual([], self.names(resources={DISK_GB: 55}))

    def check_resources_every_class(self):
        both = self.make('both')
        one = self.make('one')
        self.inventory(both, VCPU, 8)
        self.inventory(both, DISK_GB, 100)
        self.inventory(one, VCPU, 8)
        self.allocate(one, DISK_GB, 1)
        self.assertEqual(['both'],
                         self.names(resources={VCPU: 1, DISK_GB: 10}))

    def check_resources_per_provider_not_tree(self):
        root = self.make('root')
        child = self.make('child', root)
        self.inventory(root, VCPU, 8)
        self.inventory(child, DISK_GB, 100)
        self.assertEqual([], self.names(resources={VCPU: 1, DISK_GB: 1}))

    def check_member_of(self):
        a, b, c = _uuid(), _uuid(), _uuid()
        rp1, rp2, rp3 = self.make('rp1'), self.make('rp2'), self.make('rp3')
        self.make('rp4')
        self.aggregate(rp1, a)
        self.aggregate(rp2, b)
        self.aggregate(rp3, a)
        self.aggregate(rp3, b)
        self.assertEqual(['rp1', 'rp3'], self.names(member_of=[{a}]))
        self.assertEqual(['rp1', 'rp2', 'rp3'],
                         self.names(member_of=[{a, b}]))
        self.assertEqual(['rp3'], self.names(member_of=[{a}, {b}]))
        self.assertEqual([], self.names(member_of=[{c}]))
        self.assertEqual(['rp2', 'rp4'], self.names(forbidden_aggs={a}))
        self.assertEqual(['rp4'], self.names(forbidden_aggs={a, b}))
        self.assertEqual(['rp1'],
                         self.names(member_of=[{a}], forbidden_aggs={b}))
        self.assertEqual([], self.names(member_of=[{a}], forbidden_aggs={a}))

    def check_member_of_is_not_inherited(self):
        agg = _uuid()
        root = self.make('root')
        self.make('child', root)
        self.aggregate(root, agg)
        self.assertEqual(['root'], self.names(member_of=[{agg}]))

    def check_required_traits(self):
        rp1, rp2, rp3 = self.make('rp1'), self.make('rp2'), self.make('rp3')
        t_a = self.trait(rp1, 'CUSTOM_A')
        t_b = self.trait(rp2, 'CUSTOM_B')
        self.trait(rp3, 'CUSTOM_A')
        self.trait(rp3, 'CUSTOM_B')
        self.assertEqual(['rp1', 'rp3'], self.names(required=[{t_a}]))
        self.assertEqual(['rp3'], self.names(required=[{t_a}, {t_b}]))
        self.assertEqual(['rp1', 'rp2', 'rp3'],
                         self.names(required=[{t_a, t_b}]))
        self.assertEqual(['rp1'], self.names(required=[{t_a}],
                                             forbidden_traits={t_b}))
        self.assertEqual(['rp2'], self.names(forbidden_traits={t_a}))

    def check_all_filters_and(self):
        agg = _uuid()
        good = self.make('good')
        bad = self.make('bad')
        for rp in (good, bad):
            self.inventory(rp, VCPU, 8)
            self.aggregate(rp, agg)
        t_a = self.trait(good, 'CUSTOM_A')
        self.assertEqual(['good'], self.names(
            resources={VCPU: 2}, member_of=[{agg}], required=[{t_a}],
            in_tree=good.uuid, name='good', uuid=good.uuid))

    def check_in_tree(self):
        root = self.make('root')
        child = self.make('child', root)
        self.make('grandchild', child)
        self.make('other')
        self.assertEqual(['root', 'child', 'grandchild'],
                         self.names(in_tree=child.uuid))
        self.assertEqual([], self.names(in_tree=_uuid()))


class _Trees(_Helpers):

    def test_delete_and_rename(self):
        self._run_checks(self.check_delete_removes_associations,
                         self.check_delete_in_use, self.check_delete_parent,
                         self.check_rename_keeps_generation)

    def check_delete_removes_associations(self):
        rp = self.make('rp')
        self.inventory(rp, VCPU, 8)
        self.aggregate(rp, _uuid())
        self.trait(rp, 'CUSTOM_A')
        rp_obj.delete(self.ctx, rp.uuid)
        with self.db.engine.connect() as conn:
            for table in (models.INV, models.RP_AGG, models.RP_TRAIT,
                          models.RP):
                self.assertEqual(0, conn.execute(sa.select(
                    sa.func.count()).select_from(table)).scalar())
            # Aggregates themselves stay.
            self.assertEqual(1, conn.execute(sa.select(
                sa.func.count()).select_from(models.AGG)).scalar())

    def check_delete_in_use(self):
        rp = self.make('rp')
        self.allocate(rp, VCPU, 1)
        self.assertRaises(rp_obj.ProviderInUse, rp_obj.delete, self.ctx,
                          rp.uuid)

    def check_delete_parent(self):
        root = self.make('root')
        self.make('child', root)
        self.assertRaises(rp_obj.ProviderHasChildren, rp_obj.delete,
                          self.ctx, root.uuid)

    def check_rename_keeps_generation(self):
        rp = self.make('rp')
        row = rp_obj.update(self.ctx, rp.uuid, 'renamed')
        self.assertEqual('renamed', row.name)
        self.assertEqual(0, row.generation)


class _Races(_Helpers):

    def _run(self, funcs):
        """Run ``funcs`` (each taking a fresh context) at once, database
        races mapped as the handlers map them; [(result, exception)]."""
        def as_handled(func):
            def run(ctx):
                with exception.db_races_as_conflict():
                    return func(ctx)
            return run
        return self.race([as_handled(func) for func in funcs])

    def _run_without_deadlocks(self, funcs):
        """_run(), asserting that no writer deadlocked: tree changes lock
        roots in one order, so they queue (or restart) instead of waiting
        for the database to break a lock cycle."""
        retried = []
        is_deadlock = db_api.is_deadlock

        def recording(exc):
            retried.append(exc)
            return is_deadlock(exc)

        with mock.patch.object(db_api, 'is_deadlock', recording):
            results = self._run(funcs)
        self.assertEqual(
            [], [e for e in retried if isinstance(e, db_exc.DBDeadlock)])
        return results

    def test_same_name_one_wins(self):
        for _round in range(3):
            name = 'racer-%s' % _uuid()
            results = self._run(
                [lambda ctx: rp_obj.create(ctx, _uuid(), name)] * 2)
            ok = [r for r, e in results if e is None]
            failed = [e for r, e in results if e is not None]
            self.assertEqual(1, len(ok), results)
            self.assertEqual(1, len(failed), results)
            self.assertIsInstance(
                failed[0], (rp_obj.DuplicateProvider,
                            exception.ConcurrentUpdateDetected))
            self.assertEqual([name], self.names(name=name))

    def test_concurrent_reparenting_keeps_roots(self):
        a = self.make('a')
        b = self.make('b')
        a_child = self.make('a-child', a)
        self.make('a-grandchild', a_child)
        b_child = self.make('b-child', b)
        self.make('b-grandchild', b_child)

        def a_under_b_child(ctx):
            return rp_obj.update(ctx, a.uuid, 'a', b_child.uuid,
                                 allow_reparent=True)

        def b_under_a_child(ctx):
            return rp_obj.update(ctx, b.uuid, 'b', a_child.uuid,
                                 allow_reparent=True)

        results = self._run_without_deadlocks(
            [a_under_b_child, b_under_a_child])
        ok = [r for r, e in results if e is None]
        # At most one can win: both would create a loop.
        self.assertEqual(1, len(ok), results)
        for _r, exc in results:
            if exc is not None:
                self.assertIsInstance(
                    exc, (rp_obj.InvalidParent,
                          exception.ConcurrentUpdateDetected))
        check_tree_invariants(self)

    def test_concurrent_moves_and_creates(self):
        roots = [self.make('root%d' % i) for i in range(3)]
        mids = [self.make('mid%d' % i, roots[i]) for i in range(3)]

        def move(index, target):
            def func(ctx):
                return rp_obj.update(ctx, mids[index].uuid,
                                     'mid%d' % index, roots[target].uuid,
                                     allow_reparent=True)
            return func

        def create_under(index):
            def func(ctx):
                return rp_obj.create(ctx, _uuid(), 'leaf%d' % index,
                                     mids[index].uuid)
            return func

        # Three moves whose trees overlap in a cycle, and creates under
        # the moving providers.
        results = self._run_without_deadlocks(
            [move(0, 1), move(1, 2), create_under(0), create_under(1),
             move(2, 0), create_under(2)])
        for _r, exc in results:
            if exc is not None:
                self.assertIsInstance(exc,
                                      exception.ConcurrentUpdateDetected)
        check_tree_invariants(self)


fixtures.for_each_backend(globals(), _ListFilters)
fixtures.for_each_backend(globals(), _Trees)
fixtures.for_each_backend(globals(), _Races)
