"""Placement on a 3-node MariaDB Galera cluster, every node taking writes.

Each test runs several application instances at once: real gunicorn
processes, each with its own connection pool to a DIFFERENT node (like
API hosts behind a load balancer with no node affinity). Requests are
spread over them, so racing writes meet in Galera's certification (a
conflict surfaces as a deadlock at COMMIT, which the server retries as a
new transaction), and reads may land on a node other than the write's.

* ``GaleraCertificationFailure``: a transaction whose row another node
  changed and committed first fails certification (ER_LOCK_DEADLOCK) and
  is run again, as a whole, by the write retry policy of db_api.
* ``GaleraAllocationRaces``: every allocation race of
  test_allocation_races (over-commit, null-generation race, double move,
  GET-merge-PUT on one consumer, deletes against writes, ...) with the
  racers spread over the three nodes; same invariants.
* ``GaleraReadYourWrites``: with ``[placement_database]
  mysql_wsrep_sync_wait = 1``, a GET right after a 204 through another
  node returns the new state, even while that node lags (its applier is
  held back); without it, the same GET returns the old state.
* ``GaleraNodeFailure``: under load through all three nodes one node is
  stopped and restarted: its instance answers fast JSON 503s (never a
  500 or a hang), reconnects when the node is back, and no acknowledged
  write is lost.

Needs ``PLACEMENT_TEST_GALERA_URLS`` (and, for the node failure test,
``PLACEMENT_TEST_GALERA_DIR``, the state directory of
``tools/galera-cluster.sh``, which it uses to stop and restart a node).
``.ci/run`` starts the cluster and sets both. The tests of this module run
one after another in one worker (``.stestr.conf`` groups them): the node
failure test disturbs the whole cluster.
"""

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid

import fixtures
import pymysql
import sqlalchemy as sa
from testtools import content

from placement import context
from placement.db import api as db_api
from placement.db import models
from placement.tests import fixtures as placement_fixtures
from placement.tests.functional import test_allocation_races as races

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
CLUSTER_SCRIPT = os.path.join(REPO_ROOT, 'tools', 'galera-cluster.sh')
GALERA_DIR = os.environ.get('PLACEMENT_TEST_GALERA_DIR', '')

CONF = """[DEFAULT]
debug = False
[api]
auth_strategy = noauth2
[oslo_policy]
enforce_new_defaults = False
[placement_database]
connection = %(url)s
max_pool_size = 10
max_overflow = 10
%(extra)s
"""


class AppServer(fixtures.Fixture):
    """A gunicorn process serving placement on ``url`` (one node)."""

    def __init__(self, url, sync_wait=1, threads=8):
        super().__init__()
        self.url = url
        self.sync_wait = sync_wait
        self.threads = threads

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        extra = ('' if self.sync_wait is None else
                 'mysql_wsrep_sync_wait = %d' % self.sync_wait)
        with open(os.path.join(self.dir, 'placement.conf'), 'w') as conf:
            conf.write(CONF % {'url': self.url, 'extra': extra})
        self.log_path = os.path.join(self.dir, 'server.log')
        env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=self.dir)
        with open(self.log_path, 'w') as log:
            self.proc = subprocess.Popen(
                [sys.executable, '-m', 'gunicorn', '-b', '127.0.0.1:0',
                 '-w', '1', '--threads', str(self.threads), '--timeout',
                 '120', 'placement.wsgi.api:application'],
                cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(self._stop)

    def wait_ready(self, timeout=60):
        """Block until the server answers ``GET /``; sets ``port``."""
        deadline = time.time() + timeout
        self.port = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('app server exited: %s' % self.log())
            if self.port is None:
                for line in self.log().splitlines():
                    if 'Listening at: http://127.0.0.1:' in line:
                        self.port = int(line.rsplit(':', 1)[1].split()[0])
            if self.port is not None:
                try:
                    if self.request('GET', '/', timeout=5)[0] == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError('app server not ready: %s' % self.log())

    def log(self):
        with open(self.log_path) as log:
            return log.read()

    def request(self, method, path, body=None, version='latest',
                timeout=60):
        """(status, decoded JSON body or None, raw body)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout)
        headers = {'accept': 'application/json', 'x-auth-token': 'admin',
                   'openstack-api-version': 'placement %s' % version}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers['content-type'] = 'application/json'
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        decoded = None
        if raw:
            try:
                decoded = json.loads(raw)
            except ValueError:
                pass
        return resp.status, decoded, raw

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class GaleraApps(object):
    """Mixin for a Galera DBTestCase: ``start_apps`` runs one app server
    per node; ``call`` spreads requests over them round-robin."""

    backend = 'galera'
    nodes = 3

    def start_apps(self, specs):
        """``specs``: [(node, sync_wait)]; returns the started servers."""
        servers = [self.useFixture(AppServer(
            placement_fixtures.galera_node_url(self.db.url, node),
            sync_wait=sync_wait)) for node, sync_wait in specs]
        self.addOnException(lambda exc_info: self._attach_logs(servers))
        for server in servers:
            server.wait_ready()
        return servers

    def _attach_logs(self, servers):
        for index, server in enumerate(servers):
            self.addDetail('app-server-%d' % index,
                           content.text_content(server.log()[-20000:]))

    def setUp(self):
        super().setUp()
        if len(placement_fixtures.GALERA_URLS) < self.nodes:
            self.fail('PLACEMENT_TEST_GALERA_URLS lists fewer than %d '
                      'nodes' % self.nodes)
        self.apps = self.start_apps([(n, 1) for n in range(self.nodes)])
        self._next = iter(range(1 << 62))
        self._lock = threading.Lock()

    def call(self, method, path, body=None, version='latest', headers=None):
        with self._lock:
            index = next(self._next) % len(self.apps)
        status, data, _ = self.apps[index].request(method, path, body,
                                                   version)
        return status, data


def node_connection(test, node, sync_wait=0):
    """An autocommit PyMySQL connection to the test's database on
    ``node``, closed at cleanup; ``sync_wait`` is its session's
    wsrep_sync_wait (3: reads, updates and deletes first wait until
    the node has applied every write the cluster committed before)."""
    url = sa.engine.make_url(placement_fixtures.galera_node_url(
        test.db.url, node))
    conn = pymysql.connect(host=url.host, port=url.port, user=url.username,
                           password=url.password or '',
                           database=url.database, autocommit=True)
    test.addCleanup(conn.close)
    with conn.cursor() as cursor:
        cursor.execute('SET SESSION wsrep_sync_wait = %s', (sync_wait,))
    return conn


class GaleraCertificationFailure(placement_fixtures.DBTestCase):

    backend = 'galera'

    def test_conflict_from_another_node_is_retried_as_a_new_transaction(self):
        rp_uuid, _ = self.db.insert_provider()
        # Node 1 must have applied the provider's insert before its
        # UPDATE, or the UPDATE matches no row and nothing conflicts.
        other = node_connection(self, 1, sync_wait=3)
        attempts = []

        @db_api.retry_on_deadlock
        @db_api.context_manager.writer
        def bump(ctx):
            rp = models.RP
            seen = ctx.session.execute(sa.select(rp.c.generation).where(
                rp.c.uuid == rp_uuid)).scalar_one()
            attempts.append(seen)
            result = ctx.session.execute(sa.update(rp).where(
                rp.c.uuid == rp_uuid, rp.c.generation == seen).values(
                    generation=seen + 1))
            self.assertEqual(1, result.rowcount)
            if len(attempts) == 1:
                # Our row lock is local to node 0: node 1 commits a change
                # of the same row first, so our COMMIT fails certification.
                with other.cursor() as cursor:
                    self.assertEqual(1, cursor.execute(
                        'UPDATE resource_providers SET generation = 10 '
                        'WHERE uuid = %s', (rp_uuid,)))
            return seen + 1

        ctx = context.RequestContext(config=self.conf)
        self.assertEqual(11, bump(ctx))
        # The first attempt saw 0 and was rolled back; the retry, a new
        # transaction, saw node 1's write.
        self.assertEqual([0, 10], attempts)
        with self.db.engine.connect() as conn:
            self.assertEqual(11, conn.execute(sa.select(
                models.RP.c.generation).where(
                    models.RP.c.uuid == rp_uuid)).scalar_one())


class GaleraAllocationRaces(GaleraApps, races._AllocationRaces,
                            placement_fixtures.DBTestCase):
    """The allocation races, racers spread over the three nodes."""


class GaleraReadYourWrites(GaleraApps, races.AllocationChecks,
                           placement_fixtures.DBTestCase):

    def write(self, server, consumer, rp, amount, generation):
        status, data, raw = server.request(
            'PUT', '/allocations/%s' % consumer, {
                'allocations': {rp: {'resources': {'VCPU': amount}}},
                'project_id': 'p', 'user_id': 'u',
                'consumer_generation': generation,
                'consumer_type': 'INSTANCE'})
        self.assertEqual(204, status, raw)

    def read(self, server, consumer):
        status, data, raw = server.request('GET', '/allocations/%s' %
                                           consumer)
        self.assertEqual(200, status, raw)
        return ({rp: value['resources']['VCPU']
                 for rp, value in data['allocations'].items()},
                data.get('consumer_generation'))

    def test_get_after_write_through_other_node(self):
        """Write through one node, read at once through the next: with
        wsrep_sync_wait every read shows the write it follows."""
        rp = self.make_provider(total=1000)
        consumer = str(uuid.uuid4())
        generation = None
        for i in range(30):
            writer = self.apps[i % 3]
            reader = self.apps[(i + 1) % 3]
            self.write(writer, consumer, rp, i + 1, generation)
            generation = 1 if generation is None else generation + 1
            self.assertEqual(({rp: i + 1}, generation),
                             self.read(reader, consumer))

    def test_lagging_node_waits_for_the_write(self):
        """Hold node 1's applier back (FLUSH TABLES WITH READ LOCK pauses
        replication into it): a GET through node 1 without
        wsrep_sync_wait returns the old state; with it, the GET waits
        until node 1 has applied the write and returns the new state."""
        rp = self.make_provider(total=1000)
        consumer = str(uuid.uuid4())
        synced = self.apps[1]
        unsynced = self.start_apps([(1, None)])[0]
        self.write(self.apps[0], consumer, rp, 1, None)
        self.assertEqual(({rp: 1}, 1), self.read(synced, consumer))

        lock = node_connection(self, 1)
        with lock.cursor() as cursor:
            cursor.execute('FLUSH TABLES WITH READ LOCK')
        unlocking = threading.Event()
        unlocked = threading.Event()

        def unlock():
            # Set before the statement: node 1 may apply the write (and
            # the GET return) before this thread runs again.
            unlocking.set()
            with lock.cursor() as cursor:
                cursor.execute('UNLOCK TABLES')
            unlocked.set()
        timer = threading.Timer(1.0, unlock)
        self.addCleanup(timer.cancel)
        try:
            self.write(self.apps[0], consumer, rp, 2, 1)
            # The hazard is real: node 1 has not applied the 204'd write.
            self.assertEqual(({rp: 1}, 1), self.read(unsynced, consumer))
            timer.start()
            self.assertEqual(({rp: 2}, 2), self.read(synced, consumer))
            # It returned only once node 1 could apply the write.
            self.assertTrue(unlocking.is_set())
        finally:
            timer.join(10)
            if not unlocked.is_set():
                unlock()


class GaleraNodeFailure(GaleraApps, races.AllocationChecks,
                        placement_fixtures.DBTestCase):
    """Stop node 2 under load through all nodes, then bring it back."""

    NODE = 2
    CLIENTS_PER_APP = 2

    def cluster(self, *args):
        subprocess.run([CLUSTER_SCRIPT] + list(args), check=True,
                       env=dict(os.environ, GALERA_DIR=GALERA_DIR),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)

    def setUp(self):
        if not GALERA_DIR:
            placement_fixtures.require_backend(self, 'galera')
            message = ('PLACEMENT_TEST_GALERA_DIR is not set (the state '
                       'directory of tools/galera-cluster.sh)')
            if placement_fixtures.db_required():
                self.fail(message)
            self.skipTest(message)
        super().setUp()

    def test_node_stop_gives_503_and_loses_no_acked_write(self):
        """A clean shutdown (SIGTERM) of the node."""
        self.check_node_failure('stop-node')

    def test_node_crash_gives_503_and_loses_no_acked_write(self):
        """A crash (SIGKILL) of the node: the others evict it after the
        cluster's suspect timeout, the node rejoins by state transfer."""
        self.check_node_failure('kill-node')

    def check_node_failure(self, how):
        rps = [self.make_provider(total=500) for _ in range(3)]
        phase = ['up']
        stop = threading.Event()
        records = []  # (app, phase, method, consumer, status, seconds, body)
        records_lock = threading.Lock()

        def client(app_index, seed):
            app = self.apps[app_index]
            rand = random.Random(seed)
            mine = []
            while not stop.is_set():
                if mine and rand.random() < 0.4:
                    consumer = mine.pop(rand.randrange(len(mine)))
                    method, path, body = ('DELETE', '/allocations/%s' %
                                          consumer, None)
                else:
                    consumer = str(uuid.uuid4())
                    method, path = 'PUT', '/allocations/%s' % consumer
                    amount = rand.randint(1, 2)
                    body = {'allocations': {
                        rand.choice(rps): {'resources': {'VCPU': amount}}},
                        'project_id': 'p', 'user_id': 'u',
                        'consumer_generation': None,
                        'consumer_type': 'INSTANCE'}
                current = phase[0]
                start = time.time()
                try:
                    status, data, _ = app.request(method, path, body,
                                                  timeout=60)
                except OSError as exc:
                    status, data = None, repr(exc)
                elapsed = time.time() - start
                with records_lock:
                    records.append((app_index, current, method, consumer,
                                    status, elapsed, data, body))
                if method == 'PUT' and status == 204:
                    mine.append(consumer)
                time.sleep(0.01)

        threads = [threading.Thread(target=client, args=(i, 100 * i + j),
                                    daemon=True)
                   for i in range(len(self.apps))
                   for j in range(self.CLIENTS_PER_APP)]
        for thread in threads:
            thread.start()
        restarted = False
        try:
            time.sleep(2)
            phase[0] = 'stopping'
            self.cluster(how, str(self.NODE))
            phase[0] = 'down'
            time.sleep(3)
            # Until every other instance answered a request begun while
            # the node was down (the cluster may take seconds to evict a
            # killed node, and a request begun before may last that long).
            deadline = time.time() + 30
            while time.time() < deadline:
                with records_lock:
                    serving = {r[0] for r in records
                               if r[1] == 'down' and r[4] == 204}
                if serving >= set(range(len(self.apps))) - {self.NODE}:
                    break
                time.sleep(0.2)
            phase[0] = 'restarting'
            self.cluster('start-node', str(self.NODE))
            restarted = True
            phase[0] = 'back'
            # Until the instance on the restarted node wrote again.
            deadline = time.time() + 30
            while time.time() < deadline:
                with records_lock:
                    if sum(1 for r in records if r[0] == self.NODE and
                           r[1] == 'back' and r[4] == 204) >= 3:
                        break
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(90)
            if not restarted:
                self.cluster('start-node', str(self.NODE))

        def summary(rows):
            counts = {}
            for r in rows:
                key = (r[0], r[1], r[4])
                counts[key] = counts.get(key, 0) + 1
            return sorted(counts.items(), key=str)
        slowest_503 = max([r[5] for r in records if r[4] == 503] or [0])
        self.addDetail('requests', content.text_content(
            '\n'.join('app %s phase %s status %s: %d' % (k + (v,))
                      for k, v in summary(records)) +
            '\nslowest 503: %.2fs' % slowest_503))

        # No 500, no hang: 204, 409 (no room, or the server gave up on
        # provider races) or a JSON 503, each within a bounded time.
        for app_index, ph, method, consumer, status, elapsed, data, _ in \
                records:
            self.assertIn(status, (204, 409, 503),
                          (app_index, ph, method, status, data))
            self.assertLess(elapsed, 30, (app_index, ph, method, status))
            if status == 503:
                # Fast: a refused or dropped connection, not a timeout.
                self.assertLess(elapsed, 10)
                error = data['errors'][0]
                self.assertEqual(503, error['status'])
                self.assertEqual('placement.database_unavailable',
                                 error['code'])
            if status == 409:
                self.assertIn(data['errors'][0]['conflict']['kind'],
                              ('capacity', 'provider_generation'), data)
        down = [r for r in records if r[0] == self.NODE and r[1] == 'down']
        self.assertNotEqual([], down)
        self.assertEqual({503}, {r[4] for r in down})
        # The other nodes kept serving while the node was down.
        for app_index in range(len(self.apps)):
            if app_index != self.NODE:
                self.assertIn(204, [r[4] for r in records
                                    if r[0] == app_index and r[1] == 'down'])
        # The pool of the instance on the restarted node reconnected.
        self.assertIn(204, [r[4] for r in records
                            if r[0] == self.NODE and r[1] == 'back'])

        # No acknowledged write lost: acked claims are there exactly (unless
        # an acked DELETE removed them), acked deletes are gone; a 503'd
        # request may or may not have committed.
        allocs, consumers, usage = self.assert_invariants()
        written = {}
        deleted = set()
        for _, _, method, consumer, status, _, _, body in records:
            if status != 204:
                continue
            if method == 'PUT':
                (rp, value), = body['allocations'].items()
                written[consumer] = [(rp, value['resources']['VCPU'])]
            else:
                deleted.add(consumer)
        self.assertNotEqual({}, written)
        for consumer, expected in written.items():
            if consumer in deleted:
                self.assertNotIn(consumer, consumers)
            else:
                self.assertEqual(expected,
                                 self.allocations_of(allocs, consumer))
        for consumer in deleted:
            self.assertNotIn(consumer, consumers)
