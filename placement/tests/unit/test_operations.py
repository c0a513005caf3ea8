"""Operations plumbing without a server: multiprocess files of dead
workers, the gunicorn hooks' directory cleanup, and the new options and
policy rule in the generated samples."""

import os
import subprocess
import sys

import fixtures as fx
import testtools

from placement import metrics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


class TestMultiprocDir(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = self.useFixture(fx.TempDir()).path
        self.useFixture(fx.EnvironmentVariable('PROMETHEUS_MULTIPROC_DIR',
                                               self.path))

    def touch(self, *names):
        for name in names:
            open(os.path.join(self.path, name), 'w').close()

    def test_dead_workers_lose_live_gauges_only(self):
        dead, alive = _dead_pid(), os.getpid()
        self.touch('gauge_livesum_%d.db' % dead, 'counter_%d.db' % dead,
                   'histogram_%d.db' % dead, 'gauge_livesum_%d.db' % alive)
        metrics.forget_dead_workers()
        self.assertEqual(
            sorted(['counter_%d.db' % dead, 'histogram_%d.db' % dead,
                    'gauge_livesum_%d.db' % alive]),
            sorted(os.listdir(self.path)))

    def test_gunicorn_hooks(self):
        from placement.wsgi import gunicorn_conf
        self.touch('gauge_livesum_12.db', 'counter_12.db', 'notes.txt')
        gunicorn_conf.child_exit(None, type('W', (), {'pid': 12}))
        self.assertEqual(['counter_12.db', 'notes.txt'],
                         sorted(os.listdir(self.path)))
        gunicorn_conf.on_starting(None)
        self.assertEqual(['notes.txt'], os.listdir(self.path))


class TestSamples(testtools.TestCase):
    """``tox -e genconfig`` / ``genpolicy`` list the new options/rule."""

    def generate(self, tool, generator_conf):
        out = os.path.join(self.useFixture(fx.TempDir()).path, 'sample')
        subprocess.run([os.path.join(os.path.dirname(sys.executable), tool),
                        '--config-file', generator_conf,
                        '--output-file', out], check=True, cwd=ROOT)
        with open(out) as sample:
            return sample.read()

    def test_config_sample(self):
        text = self.generate('oslo-config-generator',
                             'etc/placement/config-generator.conf')
        for line in ('[metrics]', '#enabled = false',
                     '#allow_unauthenticated = false', '[healthcheck]',
                     '#backends = placement_database',
                     '#disable_by_file_path = <None>'):
            self.assertIn(line + '\n', text)

    def test_policy_sample(self):
        text = self.generate('oslopolicy-sample-generator',
                             'etc/placement/policy-generator.conf')
        self.assertIn('#"placement:metrics": "rule:admin_api"\n', text)
