"""DB-level tests of the claim (objects/allocation.py) on every backend:
generations, lifecycle, retries on provider races and deadlocks, and the
compare-and-set protections a real race would hit."""

import threading
import time
from unittest import mock
import uuid

from oslo_db import exception as db_exc
import sqlalchemy as sa

from placement.db import models
from placement import exception
from placement.objects import allocation as alloc_obj
from placement.objects import consumer as consumer_obj
from placement.objects import resource_provider as rp_obj
from placement.objects import usage as usage_obj
from placement.tests import fixtures


class _Base(object):

    def setUp(self):
        super().setUp()
        self.rp_uuid, self.rp_id = self.make_provider(total=10)

    def make_provider(self, total):
        return self.db.insert_provider(inventory={0: total})

    def request(self, consumer, amount, generation=alloc_obj.UNCHECKED,
                rp_uuid=None, **kw):
        allocations = {rp_uuid or self.rp_uuid: {'VCPU': amount}} \
            if amount else {}
        return alloc_obj.ConsumerRequest(consumer, 'p', 'u', allocations,
                                         generation=generation, **kw)

    def consumers(self):
        with self.db.engine.connect() as conn:
            return {r.uuid: r.generation for r in
                    conn.execute(sa.select(models.CONSUMER))}

    def rp_generation(self):
        with self.db.engine.connect() as conn:
            return conn.execute(sa.select(models.RP.c.generation).where(
                models.RP.c.id == self.rp_id)).scalar()


class _ClaimTests(_Base):
    """Logic that does not depend on the backend (SQLite only)."""

    def test_new_consumer_written_at_generation_one(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, None)])
        self.assertEqual({consumer: 1}, self.consumers())
        self.assertEqual(1, self.rp_generation())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 3, 1)])
        self.assertEqual({consumer: 2}, self.consumers())
        self.assertEqual({'VCPU': 3},
                         usage_obj.provider_usages(self.ctx, self.rp_id))

    def test_emptied_consumer_deleted_in_the_same_write(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, None)])
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 0, 1)])
        self.assertEqual({}, self.consumers())
        # Clearing bumps the provider left.
        self.assertEqual(2, self.rp_generation())

    def test_failed_first_write_leaves_nothing(self):
        consumer = str(uuid.uuid4())
        self.assertRaises(alloc_obj.InvalidAllocation, alloc_obj.replace_all,
                          self.ctx, [self.request(consumer, 11, None)])
        self.assertEqual({}, self.consumers())
        self.assertEqual(0, self.rp_generation())
        with self.db.engine.connect() as conn:
            self.assertEqual([], conn.execute(
                sa.select(models.PROJECT)).all())

    def test_provider_race_retried_with_fresh_reads(self):
        real = rp_obj.increment_generation
        calls = []

        def flaky(ctx, rp_id, expected):
            calls.append(expected)
            if len(calls) < 3:
                raise exception.ResourceProviderConcurrentUpdateDetected()
            return real(ctx, rp_id, expected)

        consumer = str(uuid.uuid4())
        with mock.patch.object(rp_obj, 'increment_generation', flaky):
            alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, None)])
        self.assertEqual(3, len(calls))
        self.assertEqual({consumer: 1}, self.consumers())

    def test_provider_races_exhaust_the_retries(self):
        self.conf.set_override('allocation_conflict_retry_count', 2,
                               group='placement')
        consumer = str(uuid.uuid4())
        with mock.patch.object(
                rp_obj, 'increment_generation', side_effect=(
                    exception.ResourceProviderConcurrentUpdateDetected())
        ) as cas:
            exc = self.assertRaises(
                alloc_obj.RetriesExhausted, alloc_obj.replace_all, self.ctx,
                [self.request(consumer, 2, None)])
        self.assertEqual(3, cas.call_count)
        self.assertEqual(self.rp_uuid, exc.rp_uuid)
        self.assertEqual(0, exc.seen)
        self.assertEqual({}, self.consumers())

    def test_deadlock_retried(self):
        real = rp_obj.increment_generation
        calls = []

        def deadlocking(ctx, rp_id, expected):
            calls.append(expected)
            if len(calls) == 1:
                raise db_exc.DBDeadlock()
            return real(ctx, rp_id, expected)

        with mock.patch.object(rp_obj, 'increment_generation', deadlocking):
            alloc_obj.replace_all(
                self.ctx, [self.request(str(uuid.uuid4()), 1, None)])
        self.assertEqual(2, len(calls))

    def test_consumer_generation_conflict_is_not_retried(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, None)])
        with mock.patch.object(consumer_obj, 'lookup',
                               wraps=consumer_obj.lookup) as read:
            exc = self.assertRaises(
                alloc_obj.ConsumerGenerationConflict, alloc_obj.replace_all,
                self.ctx, [self.request(consumer, 3, None)])
        self.assertEqual(1, read.call_count)
        self.assertEqual((None, 1), (exc.sent, exc.current))

    def test_delete_removes_consumer_without_bumping(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, None)])
        alloc_obj.delete_for_consumer(self.ctx, consumer)
        self.assertEqual({}, self.consumers())
        self.assertEqual(1, self.rp_generation())
        self.assertRaises(exception.NotFound, alloc_obj.delete_for_consumer,
                          self.ctx, consumer)


def _unseen(lookup):
    """A consumer_obj.lookup that misses every consumer (as if read before
    another writer created them)."""
    def wrapper(*args):
        found = lookup(*args)
        found.consumers = {}
        return found
    return wrapper


class _BackendClaimTests(_Base):
    """What each database must enforce itself: unique keys, row CAS,
    portable GROUP BY."""

    def test_stale_consumer_read_fails_its_compare_and_set(self):
        # Below 1.28 nobody sends a generation, yet a writer that read
        # the consumer before another writer committed must not win.
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 2)])
        real = consumer_obj.lookup

        def stale(*args):
            found = real(*args)
            found.consumers = {
                k: v._replace(generation=v.generation - 1)
                for k, v in found.consumers.items()}
            return found

        with mock.patch.object(consumer_obj, 'lookup', stale):
            exc = self.assertRaises(
                alloc_obj.ConsumerRace, alloc_obj.replace_all, self.ctx,
                [self.request(consumer, 3)])
        self.assertEqual(consumer, exc.consumer_uuid)
        self.assertEqual({consumer: 1}, self.consumers())

    def test_concurrent_creation_hits_the_unique_key(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, None)])
        with mock.patch.object(consumer_obj, 'lookup',
                               side_effect=_unseen(consumer_obj.lookup)):
            exc = self.assertRaises(
                alloc_obj.ConsumerRace, alloc_obj.replace_all, self.ctx,
                [self.request(consumer, 3, None)])
        self.assertEqual(consumer, exc.consumer_uuid)
        self.assertEqual({consumer: 1}, self.consumers())
        self.assertEqual(
            1, consumer_obj.current_generation(self.ctx, consumer))

    def test_usages_by_type_group_by_is_portable(self):
        for i, ctype in enumerate(['INSTANCE', 'INSTANCE', None]):
            alloc_obj.replace_all(self.ctx, [self.request(
                str(uuid.uuid4()), i + 1, None, consumer_type=ctype)])
        self.assertEqual(
            {'INSTANCE': {'consumer_count': 2, 'VCPU': 3},
             'unknown': {'consumer_count': 1, 'VCPU': 3}},
            usage_obj.usages_by_consumer_type(self.ctx, 'p'))
        self.assertEqual(
            {'all': {'consumer_count': 3, 'VCPU': 6}},
            usage_obj.usages_by_consumer_type(self.ctx, 'p', 'u', 'all'))
        self.assertEqual({}, usage_obj.usages_by_consumer_type(
            self.ctx, 'p', None, 'MIGRATION'))
        self.assertEqual({'VCPU': 6}, usage_obj.total_usages(self.ctx, 'p'))


class _ClaimStatementTests(_Base):
    """A claim is a handful of statements: count them."""

    def _statements(self, func, *args):
        with fixtures.recorded_statements() as seen:
            func(*args)
        return seen

    def test_new_consumer_claim(self):
        alloc_obj.replace_all(self.ctx, [self.request(
            str(uuid.uuid4()), 1, None)])  # project and user exist now
        seen = self._statements(alloc_obj.replace_all, self.ctx, [
            self.request(str(uuid.uuid4()), 1, None)])
        # Insert-or-ignore project and user (one statement on
        # PostgreSQL), (lock providers), ids + consumers, providers +
        # inventory + usage, insert consumer, provider CAS, insert
        # allocations.
        name = self.db.engine.dialect.name
        expected = {'postgresql': ['WITH'],
                    'mysql': ['SET', 'INSERT', 'INSERT'],
                    'sqlite': ['INSERT', 'INSERT']}[name]
        if name != 'sqlite':
            expected.append('SELECT')
        expected += ['SELECT', 'SELECT', 'INSERT', 'UPDATE', 'INSERT']
        self.assertEqual(expected, seen)

    def test_new_project_and_user_are_recorded(self):
        consumer = str(uuid.uuid4())
        project, user = str(uuid.uuid4()), str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [alloc_obj.ConsumerRequest(
            consumer, project, user, {self.rp_uuid: {'VCPU': 1}},
            generation=None)])
        with self.db.engine.connect() as conn:
            self.assertEqual(
                (project, user), conn.execute(
                    sa.select(models.PROJECT.c.external_id,
                              models.USER.c.external_id)
                    .select_from(models.CONSUMER.join(
                        models.PROJECT,
                        models.PROJECT.c.id == models.CONSUMER.c.project_id)
                        .join(models.USER,
                              models.USER.c.id == models.CONSUMER.c.user_id))
                    .where(models.CONSUMER.c.uuid == consumer)).one())

    def test_stale_generation_stops_after_the_first_read(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 1, None)])
        seen = self._statements(
            self.assertRaises, alloc_obj.ConsumerGenerationConflict,
            alloc_obj.replace_all, self.ctx,
            [self.request(consumer, 2, 0)])
        # Refused before any lock (_refuse_lost_generations), after
        # READ COMMITTED on MySQL; SQLite serialises its writers anyway.
        self.assertEqual({'postgresql': ['SELECT'], 'mysql': ['SET', 'SELECT'],
                          'sqlite': ['INSERT', 'INSERT', 'SELECT']}[
            self.db.engine.dialect.name], seen)


class _ClaimLockTests(_Base):
    """Claims on one provider queue on its row lock instead of failing
    their compare-and-set and retrying."""

    def _lock_waiters(self, conn):
        if conn.dialect.name == 'postgresql':
            return conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "wait_event_type = 'Lock' AND datname = current_database()")
            ).scalar()
        return conn.execute(sa.text(
            "SELECT count(*) FROM information_schema.innodb_trx "
            "WHERE trx_state = 'LOCK WAIT'")).scalar()

    def test_claim_waits_for_a_concurrent_writer(self):
        real = rp_obj.increment_generation
        calls = []

        def counting(ctx, rp_id, expected):
            calls.append(expected)
            return real(ctx, rp_id, expected)

        consumer = str(uuid.uuid4())
        errors = []

        def claim():
            try:
                alloc_obj.replace_all(
                    self.ctx, [self.request(consumer, 2, None)])
            except Exception as exc:  # reported below
                errors.append(exc)

        writer = self.db.engine.connect()
        self.addCleanup(writer.close)
        observer = self.db.engine.connect()
        self.addCleanup(observer.close)
        with mock.patch.object(rp_obj, 'increment_generation', counting):
            tx = writer.begin()
            # Another writer of the provider holds its row and moves it.
            writer.execute(sa.update(models.RP).where(
                models.RP.c.id == self.rp_id).values(
                generation=models.RP.c.generation + 1))
            thread = threading.Thread(target=claim)
            thread.start()
            deadline = time.monotonic() + 30
            while (self._lock_waiters(observer) < 1 and
                   time.monotonic() < deadline):
                observer.rollback()
                time.sleep(0.05)
            observer.rollback()
            tx.commit()
            thread.join(60)
        self.assertEqual([], errors)
        # One compare-and-set, from the generation the other writer left.
        self.assertEqual([1], calls)
        self.assertEqual(2, self.rp_generation())

    def test_only_the_generation_read_is_outside_the_transaction(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 1, None)])
        pg = self.db.engine.dialect.name == 'postgresql'
        with fixtures.recorded_statements(with_autocommit=True) as refused:
            self.assertRaises(
                alloc_obj.ConsumerGenerationConflict, alloc_obj.replace_all,
                self.ctx, [self.request(consumer, 2, 0)])
        self.assertEqual(('SELECT', pg), refused[-1])
        with fixtures.recorded_statements(with_autocommit=True) as won:
            alloc_obj.replace_all(self.ctx, [self.request(consumer, 2, 1)])
        first_select = [verb for verb, _ in won].index('SELECT')
        self.assertEqual(('SELECT', pg), won[first_select])
        # Every statement that locks or writes is in the transaction.
        self.assertEqual([False] * (len(won) - first_select - 1),
                         [auto for _, auto in won[first_select + 1:]])
        self.assertEqual({consumer: 2}, self.consumers())


class _LostGenerationTests(_Base):
    """A lost consumer generation is refused before anything is locked
    (allocation._refuse_lost_generations)."""

    def test_lost_generation_does_not_wait_for_provider_locks(self):
        consumer = str(uuid.uuid4())
        alloc_obj.replace_all(self.ctx, [self.request(consumer, 1, None)])
        outcome = []

        def stale_write():
            try:
                alloc_obj.replace_all(
                    self.ctx, [self.request(consumer, 2, 0)])
            except Exception as exc:  # asserted below
                outcome.append(exc)

        writer = self.db.engine.connect()
        self.addCleanup(writer.close)
        tx = writer.begin()
        self.addCleanup(tx.rollback)
        # Another writer holds the provider's row until we are done.
        writer.execute(sa.update(models.RP).where(
            models.RP.c.id == self.rp_id).values(
            generation=models.RP.c.generation + 1))
        thread = threading.Thread(target=stale_write)
        thread.start()
        thread.join(30)
        self.assertFalse(thread.is_alive(),
                         'the stale write waited for the provider lock')
        self.assertEqual(1, len(outcome), outcome)
        self.assertIsInstance(outcome[0], alloc_obj.ConsumerGenerationConflict)
        self.assertEqual({consumer: 1}, self.consumers())


fixtures.for_each_backend(globals(), _ClaimTests, backends=('sqlite',))
fixtures.for_each_backend(globals(), _BackendClaimTests)
fixtures.for_each_backend(globals(), _ClaimStatementTests)
fixtures.for_each_backend(globals(), _ClaimLockTests,
                          backends=('mysql', 'postgresql'))
fixtures.for_each_backend(globals(), _LostGenerationTests,
                          backends=('mysql', 'postgresql'))
