"""Allocation writes racing through the WSGI app on every backend.

Many threads call the in-process application at once (a barrier lines
them up, see base.run_concurrently); afterwards the database is read back
and the invariants of a correct claim are asserted: no over-commit (also
through the over-capacity escape), usages equal allocations, every
allocation has a consumer and every consumer has allocations, exactly one
winner among clients that expect the same consumer state, and no
acknowledged (204) write is lost.
"""

import uuid

import sqlalchemy as sa

from placement.db import models
from placement.tests import fixtures as placement_fixtures
from placement.tests.functional import base

RACERS = 8
# GET-merge-PUT costs O(n^2) requests; fewer clients keep it quick.
MERGERS = 5
# Rounds per test: the server backends are slower per request (and race
# for real, across connections), SQLite serialises writers; together the
# module stays around 90 s of test time.
REPEATS = {'sqlite': 2, 'mysql': 1, 'postgresql': 1}


class AllocationChecks(base.AppClient):
    """Helpers that build providers, write allocations and check the
    invariants; shared with the Galera tests (test_galera)."""

    def setUp(self):
        super().setUp()
        self.repeats = REPEATS.get(self.backend, 1)
        self.capacities = {}
        # Providers a test deliberately leaves over capacity: their usage
        # may not exceed this instead.
        self.ceilings = {}

    # -- helpers ----------------------------------------------------------

    def make_provider(self, total=10, max_unit=None, rc_id=0):
        """A provider with ``total`` units of class ``rc_id`` (VCPU)."""
        rp_uuid, _rp_id = self.db.insert_provider(
            inventory={rc_id: total}, max_unit=max_unit)
        self.capacities[rp_uuid] = total
        return rp_uuid

    def put(self, consumer, allocations, generation, project='p'):
        return self.call('PUT', '/allocations/%s' % consumer, {
            'allocations': allocations, 'project_id': project,
            'user_id': 'u', 'consumer_generation': generation,
            'consumer_type': 'INSTANCE'})

    @staticmethod
    def retrying_provider_races(request):
        """Call ``request()`` like a client that retries only when the
        server gave up on provider races (the conflict member says so)."""
        while True:
            status, data = request()
            if (status == 409 and data['errors'][0]['conflict']['kind'] ==
                    'provider_generation'):
                continue
            return status, data

    def put_retrying_provider_races(self, *args):
        return self.retrying_provider_races(lambda: self.put(*args))

    def post_retrying_provider_races(self, body):
        return self.retrying_provider_races(
            lambda: self.call('POST', '/allocations', body))

    def db_state(self):
        """(allocations, consumers by uuid, usage by provider uuid); each
        consumer row carries its project's external id."""
        with self.db.engine.connect() as conn:
            allocs = conn.execute(
                sa.select(models.ALLOC.c.consumer_id, models.RP.c.uuid,
                          models.ALLOC.c.resource_class_id,
                          models.ALLOC.c.used)
                .select_from(models.ALLOC.join(
                    models.RP, models.ALLOC.c.resource_provider_id ==
                    models.RP.c.id))
                .order_by(models.ALLOC.c.id)).all()
            consumers = {row.uuid: row for row in conn.execute(
                sa.select(models.CONSUMER.c.uuid,
                          models.CONSUMER.c.generation,
                          models.PROJECT.c.external_id.label('project'))
                .select_from(models.CONSUMER.join(
                    models.PROJECT,
                    models.CONSUMER.c.project_id == models.PROJECT.c.id)))}
        usage = {}
        for alloc in allocs:
            usage[alloc.uuid] = usage.get(alloc.uuid, 0) + alloc.used
        return allocs, consumers, usage

    def assert_invariants(self):
        """No over-commit beyond ``self.capacities`` (or the usage a test
        allows in ``self.ceilings``), every allocation has a consumer and
        every consumer allocations, and the API's usage views (provider
        allocations, provider usages, /usages per project) agree with
        the rows."""
        allocs, consumers, usage = self.db_state()
        for rp_uuid, used in usage.items():
            self.assertLessEqual(
                used, self.ceilings.get(rp_uuid, self.capacities[rp_uuid]))
        for alloc in allocs:
            self.assertIn(alloc.consumer_id, consumers)
        self.assertEqual(set(consumers), {a.consumer_id for a in allocs})
        for rp_uuid in self.capacities:
            status, data = self.call(
                'GET', '/resource_providers/%s/allocations' % rp_uuid)
            self.assertEqual(200, status)
            total = sum(sum(c['resources'].values())
                        for c in data['allocations'].values())
            self.assertEqual(usage.get(rp_uuid, 0), total)
            status, data = self.call(
                'GET', '/resource_providers/%s/usages' % rp_uuid)
            self.assertEqual({'VCPU': usage.get(rp_uuid, 0)}, data['usages'])
        by_project = {}
        for alloc in allocs:
            project = consumers[alloc.consumer_id].project
            by_project[project] = by_project.get(project, 0) + alloc.used
        for project, used in by_project.items():
            status, data = self.call('GET', '/usages?project_id=%s' % project,
                                     version='1.9')
            self.assertEqual({'usages': {'VCPU': used}}, data)
        return allocs, consumers, usage

    def allocations_of(self, allocs, consumer):
        return sorted((a.uuid, a.used) for a in allocs
                      if a.consumer_id == consumer)


class _AllocationRaces(AllocationChecks):

    # -- tests ------------------------------------------------------------

    def test_scarce_pool_never_overcommitted(self):
        for _ in range(self.repeats):
            slots = 5
            rps = [self.make_provider(total=slots) for _ in range(2)]
            consumers = [str(uuid.uuid4()) for _ in range(RACERS)]

            def claim(i):
                # Every client wants one unit of both providers.
                allocations = {rp: {'resources': {'VCPU': 1}}
                               for rp in (rps if i % 2 else rps[::-1])}
                return lambda: self.put_retrying_provider_races(
                    consumers[i], allocations, None)

            results = self.race([claim(i) for i in range(RACERS)])
            winners = [c for c, (status, _) in zip(consumers, results)
                       if status == 204]
            for status, data in results:
                if status != 204:
                    self.assertEqual(409, status)
                    self.assertEqual('capacity',
                                     data['errors'][0]['conflict']['kind'])
            self.assertEqual(slots, len(winners))
            allocs, db_consumers, usage = self.assert_invariants()
            self.assertEqual({rp: slots for rp in rps},
                             {rp: usage[rp] for rp in rps})
            for consumer in consumers:
                self.assertEqual(consumer in winners,
                                 consumer in db_consumers)
            # Every acknowledged claim is there, exactly as written.
            for consumer in winners:
                self.assertEqual(sorted((rp, 1) for rp in rps),
                                 self.allocations_of(allocs, consumer))

    def test_new_consumer_exactly_one_null_writer_wins(self):
        for _ in range(self.repeats):
            rp = self.make_provider(total=1000)
            consumer = str(uuid.uuid4())
            results = self.race([
                (lambda i=i: self.put_retrying_provider_races(
                    consumer, {rp: {'resources': {'VCPU': i + 1}}}, None,
                    'project-%d' % i))
                for i in range(RACERS)])
            winners = [i for i, (status, _) in enumerate(results)
                       if status == 204]
            self.assertEqual(1, len(winners), results)
            for status, data in results:
                if status != 204:
                    self.assertEqual(409, status)
                    error = data['errors'][0]
                    self.assertEqual('placement.concurrent_update',
                                     error['code'])
                    self.assertEqual('consumer_generation',
                                     error['conflict']['kind'])
            # The acknowledged write is what the database holds.
            status, data = self.call('GET', '/allocations/%s' % consumer)
            self.assertEqual(
                {rp: {'generation': data['allocations'][rp]['generation'],
                      'resources': {'VCPU': winners[0] + 1}}},
                data['allocations'])
            self.assertEqual(1, data['consumer_generation'])
            self.assertEqual('project-%d' % winners[0], data['project_id'])
            self.assert_invariants()

    def test_one_of_many_moves_wins(self):
        for _ in range(self.repeats):
            source = self.make_provider(total=100)
            targets = [self.make_provider(total=100) for _ in range(RACERS)]
            consumer = str(uuid.uuid4())
            self.assertEqual(204, self.put(
                consumer, {source: {'resources': {'VCPU': 2}}}, None)[0])

            def move(target):
                return lambda: self.post_retrying_provider_races({
                    consumer: {
                        'allocations': {target: {'resources': {'VCPU': 2}}},
                        'project_id': 'p', 'user_id': 'u',
                        'consumer_generation': 1,
                        'consumer_type': 'INSTANCE'}})

            results = self.race([move(t) for t in targets])
            winners = [t for t, (status, _) in zip(targets, results)
                       if status == 204]
            self.assertEqual(1, len(winners), results)
            allocs, consumers, usage = self.assert_invariants()
            mine = [a for a in allocs if a.consumer_id == consumer]
            self.assertEqual([(winners[0], 2)],
                             [(a.uuid, a.used) for a in mine])
            self.assertEqual(2, consumers[consumer].generation)

    def test_get_merge_put_keeps_every_contribution(self):
        for _ in range(self.repeats):
            rps = [self.make_provider(total=100) for _ in range(MERGERS)]
            consumer = str(uuid.uuid4())

            def contribute(i):
                def run():
                    attempts = 0
                    while True:
                        attempts += 1
                        self.assertLess(attempts, 500)
                        _, seen = self.call('GET', '/allocations/%s' %
                                            consumer)
                        allocations = {
                            rp: {'resources': value['resources']}
                            for rp, value in seen['allocations'].items()}
                        allocations[rps[i]] = {'resources': {'VCPU': i + 1}}
                        status, data = self.put(
                            consumer, allocations,
                            seen.get('consumer_generation'))
                        if status == 204:
                            return status
                        self.assertEqual(409, status, data)
                return run

            results = self.race([contribute(i) for i in range(MERGERS)])
            self.assertEqual([204] * MERGERS, results)
            allocs, consumers, usage = self.assert_invariants()
            self.assertEqual(
                sorted((rps[i], i + 1) for i in range(MERGERS)),
                sorted((a.uuid, a.used) for a in allocs
                       if a.consumer_id == consumer))
            self.assertEqual(MERGERS, consumers[consumer].generation)

    def test_deletes_racing_writes_leave_no_orphans(self):
        for _ in range(self.repeats):
            rp = self.make_provider(total=1000)
            consumer = str(uuid.uuid4())
            self.assertEqual(204, self.put(
                consumer, {rp: {'resources': {'VCPU': 1}}}, None)[0])

            def writer(i):
                return lambda: self.call('PUT', '/allocations/%s' % consumer,
                                         {'allocations': {
                                             rp: {'resources': {'VCPU': i + 1}}},
                                          'project_id': 'p', 'user_id': 'u'},
                                         version='1.12')

            def deleter():
                return self.call('DELETE', '/allocations/%s' % consumer)

            funcs = [writer(i) if i % 2 else deleter for i in range(RACERS)]
            results = self.race(funcs)
            for status, _ in results:
                self.assertIn(status, (204, 404, 409))
            allocs, consumers, usage = self.assert_invariants()
            mine = self.allocations_of(allocs, consumer)
            # Either an acknowledged write (or the initial one, if no
            # racer changed anything) with its consumer, or nothing, and
            # then some DELETE was acknowledged.
            acked_writes = {i + 1 for i in range(RACERS)
                            if i % 2 and results[i][0] == 204}
            acked_deletes = [i for i in range(RACERS)
                             if not i % 2 and results[i][0] == 204]
            self.assertEqual(bool(mine), consumer in consumers)
            if mine:
                self.assertEqual(1, len(mine))
                self.assertIn(mine[0][1], acked_writes | {1})
                if mine[0][1] == 1 and 1 not in acked_writes:
                    self.assertEqual([], acked_deletes)
            else:
                self.assertNotEqual([], acked_deletes)

    def test_over_capacity_escape_under_concurrency(self):
        """On an over-committed provider, racing writers that shrink or
        keep their usage all pass, growers and newcomers all fail, and
        usage only goes down."""
        holders = 8
        for _ in range(self.repeats):
            rp = self.make_provider(total=2 * holders)
            consumers = [str(uuid.uuid4()) for _ in range(holders)]
            for consumer in consumers:
                self.assertEqual(204, self.put(
                    consumer, {rp: {'resources': {'VCPU': 2}}}, None)[0])
            # Shrink the inventory below the usage (16 used of 8).
            with self.db.engine.begin() as conn:
                conn.execute(sa.update(models.INV).where(
                    models.INV.c.resource_provider_id == sa.select(
                        models.RP.c.id).where(
                            models.RP.c.uuid == rp).scalar_subquery())
                    .values(total=holders, max_unit=2 * holders))
            self.capacities[rp] = holders
            self.ceilings[rp] = 2 * holders

            def write(consumer, amount, generation):
                return lambda: self.put_retrying_provider_races(
                    consumer, {rp: {'resources': {'VCPU': amount}}},
                    generation)

            half = holders // 2
            funcs = ([write(c, 1, 1) for c in consumers[:half]] +
                     [write(c, 3, 1) for c in consumers[half:]] +
                     [write(str(uuid.uuid4()), 1, None)
                      for _ in range(half)])
            results = self.race(funcs)
            self.assertEqual([204] * half, [r[0] for r in results[:half]],
                             results)
            for status, data in results[half:]:
                self.assertEqual(409, status, data)
                self.assertEqual('capacity',
                                 data['errors'][0]['conflict']['kind'])
            allocs, db_consumers, usage = self.assert_invariants()
            self.assertEqual(half * 1 + (holders - half) * 2, usage[rp])
            self.assertEqual(set(consumers),
                             {a.consumer_id for a in allocs
                              if a.uuid == rp})

    def test_one_of_many_handovers_wins(self):
        """POST /allocations emptying a source consumer and giving its
        resources to a new consumer (a migration's handover): exactly one
        of N racers wins; the source is gone, one target holds the
        resources, the losers left no consumer behind."""
        for _ in range(self.repeats):
            # Room for the source only: every racer needs the source's
            # units freed in the same request.
            rp = self.make_provider(total=2)
            source = str(uuid.uuid4())
            self.assertEqual(204, self.put(
                source, {rp: {'resources': {'VCPU': 2}}}, None)[0])
            targets = [str(uuid.uuid4()) for _ in range(RACERS)]

            def handover(target):
                return lambda: self.post_retrying_provider_races({
                    source: {
                        'allocations': {}, 'project_id': 'p',
                        'user_id': 'u', 'consumer_generation': 1,
                        'consumer_type': 'INSTANCE'},
                    target: {
                        'allocations': {rp: {'resources': {'VCPU': 2}}},
                        'project_id': 'p', 'user_id': 'u',
                        'consumer_generation': None,
                        'consumer_type': 'MIGRATION'}})

            results = self.race([handover(t) for t in targets])
            winners = [t for t, (status, _) in zip(targets, results)
                       if status == 204]
            self.assertEqual(1, len(winners), results)
            for status, data in results:
                if status != 204:
                    self.assertEqual(409, status, data)
                    error = data['errors'][0]
                    self.assertEqual('placement.concurrent_update',
                                     error['code'], error)
                    self.assertEqual('consumer_generation',
                                     error['conflict']['kind'])
                    self.assertEqual(source,
                                     error['conflict']['consumer_uuid'])
            allocs, consumers, usage = self.assert_invariants()
            self.assertNotIn(source, consumers)
            self.assertEqual(winners, [t for t in targets if t in consumers])
            self.assertEqual([(rp, 2)], self.allocations_of(allocs,
                                                            winners[0]))
            self.assertEqual(1, consumers[winners[0]].generation)


placement_fixtures.for_each_backend(globals(), _AllocationRaces)
