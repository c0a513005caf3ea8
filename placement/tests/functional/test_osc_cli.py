"""Drive the real ``openstack`` CLI (osc-placement) against our service.

One gunicorn server on SQLite (noauth2) per test class. The CLI takes
seconds to start, so each test feeds a batch of commands to one
interactive ``openstack`` process (marker lines between commands split
its output per command). Skipped when ``openstack`` is not installed.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid

import testtools

from tools.bench import server as bench_server

MICROVERSION = '1.39'
PROJECT = str(uuid.uuid4())
USER = str(uuid.uuid4())


def _openstack():
    local = os.path.join(os.path.dirname(sys.executable), 'openstack')
    if os.access(local, os.X_OK):
        return local
    return shutil.which('openstack')


OPENSTACK = _openstack()


class Result(object):
    """What one command printed; ``json`` decodes its stdout."""

    def __init__(self, command, out, err):
        self.command = command
        self.out = out
        self.err = err

    @property
    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            raise AssertionError('%r printed no JSON: out=%r err=%r' % (
                self.command, self.out, self.err))


# Opt-in for now: inside tox's virtualenv the batched interactive
# `openstack` session prints nothing (passes with the development venv);
# until that is understood, run with PLACEMENT_TEST_CLI=1.
@testtools.skipUnless(os.environ.get('PLACEMENT_TEST_CLI') == '1',
                      'set PLACEMENT_TEST_CLI=1 to drive the openstack CLI')
@testtools.skipIf(OPENSTACK is None, 'openstack CLI (osc-placement) is '
                  'not installed')
class OSCTestCase(testtools.TestCase):

    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = bench_server.ManagedServer().start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()
        super().tearDownClass()

    def auth_args(self):
        return ['--os-auth-type', 'admin_token', '--os-token', 'admin',
                '--os-endpoint', self.server.url,
                '--os-placement-api-version', MICROVERSION]

    def run_one(self, *args):
        """One CLI invocation with the auth options on the command line."""
        proc = subprocess.run(
            [OPENSTACK] + self.auth_args() + list(args),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        return Result(' '.join(args), proc.stdout, proc.stderr)

    def run_batch(self, *commands):
        """Run commands in one interactive CLI process; return a Result per
        command. Auth comes from the equivalent OS_* environment variables
        (interactive mode would read command-line options as commands).
        """
        lines = []
        for i, command in enumerate(commands):
            marker = '@@%d@@' % i
            lines.append(command)
            lines.append('shell sh -c "echo %s; echo %s 1>&2"'
                         % (marker, marker))
        env = dict(os.environ, OS_AUTH_TYPE='admin_token', OS_TOKEN='admin',
                   OS_ENDPOINT=self.server.url,
                   OS_PLACEMENT_API_VERSION=MICROVERSION)
        for name in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_USERNAME',
                     'OS_PASSWORD', 'OS_PROJECT_NAME'):
            env.pop(name, None)
        proc = subprocess.run([OPENSTACK], input='\n'.join(lines) + '\n',
                              capture_output=True, text=True, timeout=300,
                              env=env)
        outs = self._split(proc.stdout, len(commands))
        errs = self._split(proc.stderr, len(commands))
        return [Result(c, o, e) for c, o, e in zip(commands, outs, errs)]

    def _split(self, text, count):
        parts = []
        for i in range(count):
            marker = '@@%d@@\n' % i
            head, sep, text = text.partition(marker)
            if not sep:
                self.fail('CLI output ended before command %d:\n%s'
                          % (i, head))
            parts.append(head)
        return parts

    def assertNoErrors(self, results):
        for result in results:
            self.assertEqual('', result.err.strip(),
                             'stderr of %r' % result.command)

    @staticmethod
    def create_commands(rp, **inventory):
        """Commands creating provider ``rp`` with ``inventory`` totals."""
        commands = ['resource provider create rp-%s --uuid %s -f json'
                    % (rp, rp)]
        if inventory:
            commands.append('resource provider inventory set %s %s -f json'
                            % (rp, ' '.join('--resource %s=%s' % kv
                                            for kv in inventory.items())))
        return commands


class TestOSCPlacement(OSCTestCase):

    def test_command_line_options(self):
        """The documented --os-* options reach our service."""
        name = 'cli-opts-%s' % uuid.uuid4().hex[:8]
        created = self.run_one('resource provider create', name, '-f',
                               'json')
        self.assertEqual('', created.err.strip())
        body = created.json
        self.assertEqual(name, body['name'])
        self.assertEqual(0, body['generation'])
        self.assertEqual(body['uuid'], body['root_provider_uuid'])
        self.assertIsNone(body['parent_provider_uuid'])

    def test_provider_lifecycle(self):
        root, child = str(uuid.uuid4()), str(uuid.uuid4())
        r = self.run_batch(
            'resource provider create cli-root --uuid %s -f json' % root,
            'resource provider create cli-child --uuid %s '
            '--parent-provider %s -f json' % (child, root),
            'resource provider list --in-tree %s -f json' % root,
            'resource provider show %s -f json' % child,
            'resource provider set %s --name cli-root-renamed -f json' % root,
            'resource provider list --name cli-root-renamed -f json',
            'resource provider delete %s' % root,
            'resource provider delete %s' % child,
            'resource provider delete %s' % root,
            'resource provider show %s -f json' % root,
        )
        self.assertEqual(root, r[0].json['uuid'])
        self.assertEqual('cli-root', r[0].json['name'])
        self.assertEqual(root, r[1].json['parent_provider_uuid'])
        self.assertEqual(root, r[1].json['root_provider_uuid'])
        self.assertEqual([root, child], [p['uuid'] for p in r[2].json])
        self.assertEqual('cli-child', r[3].json['name'])
        self.assertEqual(root, r[3].json['root_provider_uuid'])
        self.assertEqual('cli-root-renamed', r[4].json['name'])
        self.assertEqual([root], [p['uuid'] for p in r[5].json])
        # A provider with children cannot be deleted.
        self.assertIn('HTTP 409', r[6].err)
        self.assertNoErrors(r[7:9])
        self.assertIn('HTTP 404', r[9].err)
        self.assertNoErrors(r[:6])

    def test_resource_classes(self):
        r = self.run_batch(
            'resource class create CUSTOM_CLI_GPU',
            'resource class show CUSTOM_CLI_GPU -f json',
            'resource class list -f json',
            'resource class show VCPU -f json',
            'resource class create VCPU',
            'resource class delete CUSTOM_CLI_GPU',
            'resource class show CUSTOM_CLI_GPU -f json',
        )
        self.assertNoErrors(r[:4])
        self.assertEqual({'name': 'CUSTOM_CLI_GPU'}, r[1].json)
        names = [c['name'] for c in r[2].json]
        self.assertIn('CUSTOM_CLI_GPU', names)
        self.assertIn('VCPU', names)
        self.assertEqual({'name': 'VCPU'}, r[3].json)
        self.assertIn('HTTP 400', r[4].err)
        self.assertNoErrors(r[5:6])
        self.assertIn('HTTP 404', r[6].err)

    def test_traits(self):
        rp = str(uuid.uuid4())
        r = self.run_batch(*self.create_commands(rp) + [
            'trait create CUSTOM_CLI_FAST',
            'trait show CUSTOM_CLI_FAST -f json',
            'trait list --name in:CUSTOM_CLI_FAST,HW_CPU_X86_AVX2 -f json',
            'resource provider trait set %s --trait CUSTOM_CLI_FAST '
            '--trait HW_CPU_X86_AVX2 -f json' % rp,
            'resource provider trait list %s -f json' % rp,
            'trait list --associated -f json',
            'trait delete CUSTOM_CLI_FAST',
            'resource provider trait delete %s' % rp,
            'resource provider trait list %s -f json' % rp,
            'trait delete CUSTOM_CLI_FAST',
            'trait delete HW_CPU_X86_AVX2',
        ])[1:]
        self.assertNoErrors(r[:6])
        self.assertEqual({'name': 'CUSTOM_CLI_FAST'}, r[1].json)
        both = ['CUSTOM_CLI_FAST', 'HW_CPU_X86_AVX2']
        self.assertEqual(both, sorted(t['name'] for t in r[2].json))
        self.assertEqual(both, sorted(t['name'] for t in r[3].json))
        self.assertEqual(both, sorted(t['name'] for t in r[4].json))
        self.assertIn('CUSTOM_CLI_FAST', [t['name'] for t in r[5].json])
        # Still used by a provider.
        self.assertIn('HTTP 409', r[6].err)
        self.assertNoErrors(r[7:10])
        self.assertEqual([], r[8].json)
        # Standard traits cannot be deleted.
        self.assertIn('HTTP 400', r[10].err)

    def test_inventories_and_aggregates(self):
        rp = str(uuid.uuid4())
        agg1, agg2 = sorted(str(uuid.uuid4()) for _ in range(2))
        r = self.run_batch(*self.create_commands(rp) + [
            # 1-10: inventories
            'resource provider inventory set %s --resource VCPU=8 '
            '--resource VCPU:allocation_ratio=4.0 --resource MEMORY_MB=2048 '
            '--resource MEMORY_MB:reserved=512 -f json' % rp,
            'resource provider inventory list %s -f json' % rp,
            'resource provider inventory show %s VCPU -f json' % rp,
            'resource provider inventory class set %s VCPU --total 100 '
            '--max_unit 50 -f json' % rp,
            'resource provider inventory class set %s DISK_GB --total 10 '
            '-f json' % rp,
            'resource provider inventory set %s --amend --resource '
            'DISK_GB=10 -f json' % rp,
            'resource provider inventory delete %s --resource-class '
            'MEMORY_MB' % rp,
            'resource provider inventory list %s -f json' % rp,
            'resource provider inventory show %s MEMORY_MB -f json' % rp,
            'resource provider inventory delete %s' % rp,
            'resource provider inventory list %s -f json' % rp,
            # 12-18: aggregates
            'resource provider show %s -f json' % rp,
            'resource provider aggregate list %s -f json' % rp,
            'resource provider aggregate set %s --aggregate %s '
            '--aggregate %s --generation 5 -f json' % (rp, agg1, agg2),
            'resource provider aggregate list %s -f json' % rp,
            'resource provider list --member-of %s -f json' % agg2,
            'resource provider aggregate set %s --aggregate %s '
            '--generation 5 -f json' % (rp, agg1),
            'resource provider aggregate set %s --generation 6 -f json' % rp,
            'resource provider aggregate list %s -f json' % rp,
        ])[1:]
        self.assertNoErrors(r[:4])
        by_class = {i['resource_class']: i for i in r[1].json}
        self.assertEqual(['MEMORY_MB', 'VCPU'], sorted(by_class))
        self.assertEqual(8, by_class['VCPU']['total'])
        self.assertEqual(4.0, by_class['VCPU']['allocation_ratio'])
        self.assertEqual(512, by_class['MEMORY_MB']['reserved'])
        self.assertEqual(1, by_class['MEMORY_MB']['min_unit'])
        self.assertEqual(8, r[2].json['total'])
        self.assertEqual(2147483647, r[2].json['max_unit'])
        self.assertEqual(100, r[3].json['total'])
        self.assertEqual(50, r[3].json['max_unit'])
        # PUT on one class does not create a missing record.
        self.assertIn('HTTP 400', r[4].err)
        self.assertNoErrors(r[5:8])
        amended = {i['resource_class']: i for i in r[5].json}
        self.assertEqual(['DISK_GB', 'MEMORY_MB', 'VCPU'], sorted(amended))
        self.assertEqual(100, amended['VCPU']['total'])
        self.assertEqual(['DISK_GB', 'VCPU'],
                         sorted(i['resource_class'] for i in r[7].json))
        self.assertIn('HTTP 404', r[8].err)
        self.assertNoErrors(r[9:14])
        self.assertEqual([], r[10].json)
        # Five successful inventory writes bumped the generation.
        self.assertEqual(5, r[11].json['generation'])
        self.assertEqual([], r[12].json)
        self.assertEqual([agg1, agg2], sorted(a['uuid'] for a in r[13].json))
        self.assertEqual([agg1, agg2], sorted(a['uuid'] for a in r[14].json))
        self.assertEqual([rp], [p['uuid'] for p in r[15].json])
        # Stale generation.
        self.assertIn('HTTP 409', r[16].err)
        self.assertNoErrors(r[17:])
        self.assertEqual([], r[18].json)

    def test_allocations_usages_candidates(self):
        rp, consumer = str(uuid.uuid4()), str(uuid.uuid4())
        owner = '--project-id %s --user-id %s' % (PROJECT, USER)
        r = self.run_batch(*self.create_commands(
            rp, VCPU=8, MEMORY_MB=4096) + [
            'allocation candidate list --resource VCPU=2 '
            '--resource MEMORY_MB=1024 -f json',
            'resource provider allocation set %s --allocation '
            'rp=%s,VCPU=2,MEMORY_MB=1024 %s --consumer-type INSTANCE -f json'
            % (consumer, rp, owner),
            'resource provider allocation show %s -f json' % consumer,
            'resource provider usage show %s -f json' % rp,
            'resource usage show %s -f json' % PROJECT,
            'resource provider allocation set %s --allocation '
            'rp=%s,VCPU=9 %s --consumer-type INSTANCE -f json'
            % (consumer, rp, owner),
            'allocation candidate list --resource VCPU=7 -f json',
            'resource provider allocation unset %s --provider %s '
            '--resource-class MEMORY_MB -f json' % (consumer, rp),
            'resource provider allocation delete %s' % consumer,
            'resource provider allocation show %s -f json' % consumer,
            'resource provider usage show %s -f json' % rp,
            'resource provider delete %s' % rp,
        ])[2:]
        self.assertNoErrors(r[:5])
        candidates = r[0].json
        self.assertEqual(1, len(candidates))
        self.assertEqual(rp, candidates[0]['resource provider'])
        self.assertIn('VCPU=2', candidates[0]['allocation'])
        self.assertIn('MEMORY_MB=1024', candidates[0]['allocation'])
        for shown in (r[1].json, r[2].json):
            self.assertEqual(1, len(shown))
            self.assertEqual(rp, shown[0]['resource_provider'])
            self.assertEqual({'VCPU': 2, 'MEMORY_MB': 1024},
                             shown[0]['resources'])
            self.assertEqual(PROJECT, shown[0]['project_id'])
            self.assertEqual(USER, shown[0]['user_id'])
            self.assertEqual('INSTANCE', shown[0]['consumer_type'])
        usage = {u['resource_class']: u['usage'] for u in r[3].json}
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 1024}, usage)
        # At 1.38 project usages are grouped by consumer type.
        self.assertEqual([{'resource_class': 'INSTANCE',
                           'usage': {'VCPU': 2, 'MEMORY_MB': 1024,
                                     'consumer_count': 1}}], r[4].json)
        # Over capacity (8 VCPU at the default ratio 1.0).
        self.assertIn('HTTP 409', r[5].err)
        # 2 used + 7 does not fit either: no candidates.
        self.assertEqual([], r[6].json)
        self.assertNoErrors(r[7:])
        self.assertEqual({'VCPU': 2}, r[7].json[0]['resources'])
        self.assertEqual([], r[9].json)
        usage = {u['resource_class']: u['usage'] for u in r[10].json}
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0}, usage)
