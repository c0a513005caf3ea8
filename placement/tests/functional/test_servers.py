"""The real WSGI servers: gunicorn and uWSGI serve
``placement.wsgi.api:application`` with several worker processes on a
free loopback port, started outside the checkout, on every backend.
``GET /healthcheck`` answers without a token (and honours its disable
file) and ``GET /metrics`` aggregates every worker (Prometheus
multiprocess mode), also after a worker is killed."""

import concurrent.futures
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import fixtures as fx
from prometheus_client import multiprocess

from placement.tests import fixtures
from placement.tests.functional import base

WORKERS = 3
REQUESTS = 12
COUNT = ('placement_http_request_duration_seconds_count', (
    ('method', 'GET'), ('microversion', '1.0'),
    ('route', '/resource_providers'), ('status', '200')))


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class _ServerTest(object):
    """One server (``command``) on a fresh database of ``backend``."""

    def command(self, port):
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fx.TempDir()).path
        self.prom = os.path.join(self.dir, 'prometheus')
        os.mkdir(self.prom)
        self.disable_file = os.path.join(self.dir, 'healthcheck-disable')
        with open(os.path.join(self.dir, 'placement.conf'), 'w') as conf:
            conf.write(
                '[placement_database]\nconnection = %s\n'
                '[api]\nauth_strategy = noauth2\n'
                '[metrics]\nenabled = true\n'
                '[healthcheck]\n'
                'backends = placement_database, disable_by_file\n'
                'disable_by_file_path = %s\n' % (self.db.url,
                                                 self.disable_file))
        self.port = _free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=self.dir,
                   PROMETHEUS_MULTIPROC_DIR=self.prom)
        self.log = open(os.path.join(self.dir, 'server.log'), 'w+')
        self.addCleanup(self.log.close)
        self.proc = subprocess.Popen(
            self.command(self.port), cwd=self.dir, env=env,
            stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self._stop)
        self._wait_healthy()
        # Every worker has loaded the application (its metric files exist).
        self._wait_for(lambda: len(self.worker_files()) >= WORKERS,
                       'workers not started')

    def worker_files(self):
        return glob.glob(os.path.join(self.prom, 'histogram_*.db'))

    def _wait_for(self, predicate, message, timeout=90):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail('%s: %s' % (message, self._log_text()))
            time.sleep(0.3)

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _log_text(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def _wait_healthy(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail('server exited: %s' % self._log_text())
            try:
                if self.get('/healthcheck', token=None)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.fail('server not healthy: %s' % self._log_text())

    def get(self, path, token='admin'):
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header('X-Auth-Token', token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def served_by_worker(self):
        """{pid: requests counted} from each worker's own file."""
        counts = {}
        for path in self.worker_files():
            pid = int(os.path.basename(path)[len('histogram_'):-3])
            for metric in multiprocess.MultiProcessCollector.merge([path]):
                for s in metric.samples:
                    if (s.name, tuple(sorted(s.labels.items()))) == COUNT:
                        counts[pid] = s.value
        return counts

    def send(self, count):
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(
                lambda _: self.get('/resource_providers')[0], range(count)))
        self.assertEqual([200] * count, statuses)

    def scrape_count(self):
        status, text = self.get('/metrics')
        self.assertEqual(200, status, text)
        return base.metric_samples(text).get(COUNT)

    def test_health_and_metrics_across_workers(self):
        # Several workers answer (bounded: a batch at a time).
        sent = 0
        while sent < REQUESTS * 10:
            self.send(REQUESTS)
            sent += REQUESTS
            if len(self.served_by_worker()) >= 2:
                break
        served = self.served_by_worker()
        self.assertGreaterEqual(len(served), 2, served)
        self.assertEqual(sent, sum(served.values()))
        # Whichever worker answers the scrape reports every worker's.
        for _ in range(2 * WORKERS):
            self.assertEqual(sent, self.scrape_count())
        self.assertEqual(403, self.get('/metrics', token='user')[0])

        # Healthcheck: no token, disable file, back again.
        # (one line per backend: placement_database, disable_by_file)
        self.assertEqual((200, 'OK\nOK'),
                         self.get('/healthcheck', token=None))
        open(self.disable_file, 'w').close()
        self.assertEqual((503, 'OK\nDISABLED BY FILE'),
                         self.get('/healthcheck', token=None))
        os.unlink(self.disable_file)
        self.assertEqual(200, self.get('/healthcheck', token=None)[0])

        # A worker dies: its requests stay counted, its live gauges go.
        victim = max(served, key=served.get)
        self.assertNotEqual(self.proc.pid, victim)
        live = os.path.join(self.prom, 'gauge_livesum_%d.db' % victim)
        self.assertTrue(os.path.exists(live))
        os.kill(victim, signal.SIGKILL)
        self._wait_for(lambda: not os.path.exists(live),
                       'live gauge of the dead worker kept')
        self._wait_healthy()
        self.assertEqual(sent, self.scrape_count())


class _Gunicorn(_ServerTest):

    def command(self, port):
        return [sys.executable, '-m', 'gunicorn', '--workers', str(WORKERS),
                '--bind', '127.0.0.1:%d' % port,
                '-c', 'python:placement.wsgi.gunicorn_conf',
                'placement.wsgi.api:application']


class _UWSGI(_ServerTest):

    def command(self, port):
        binary = shutil.which('uwsgi', path=os.path.dirname(sys.executable))
        if not binary:
            self.skipTest('uWSGI is not installed (test-requirements.txt)')
        return [binary, '--http-socket', '127.0.0.1:%d' % port,
                '--module', 'placement.wsgi.api:application',
                '--processes', str(WORKERS), '--master', '--lazy-apps',
                '--need-app', '--die-on-term', '-H', sys.prefix]


fixtures.for_each_backend(globals(), _Gunicorn)
fixtures.for_each_backend(globals(), _UWSGI)
