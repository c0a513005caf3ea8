"""Drive the real ``openstack`` CLI (osc-placement) against our service.

Operators meet the service through this CLI, so every ``openstack
resource provider|allocation|trait|resource class|allocation
candidate|usage`` command runs here, with its error paths, against one
gunicorn server (noauth2) per backend: SQLite, MariaDB/MySQL and
PostgreSQL. Errors are checked as the user reads them: osc-placement
prints the last line of the error ``detail`` followed by ``(HTTP nnn)``.

The CLI takes about a second to start, so each test feeds a batch of
commands to one interactive ``openstack`` process; marker lines, echoed
by a ``shell`` command between two commands, split its output per
command. The child ``sh`` writes its marker straight to the pipe, so
the CLI's own output must not sit in a buffer meanwhile: the session
runs with ``PYTHONUNBUFFERED=1``. (Without it, stdout to a pipe is
block-buffered and every marker arrives before any command's output:
each command then seemed to print nothing. Interactive shells of the
developers had it exported; tox's environment does not.)
"""

import json
import os
import shutil
import subprocess
import sys
import unittest
import uuid

import testtools

from placement.tests import fixtures as db_fixtures
from tools.bench import server as bench_server

MICROVERSION = '1.39'
PROJECT = str(uuid.uuid4())
USER = str(uuid.uuid4())
MISSING = str(uuid.uuid4())


def _openstack():
    local = os.path.join(os.path.dirname(sys.executable), 'openstack')
    if os.access(local, os.X_OK):
        return local
    return shutil.which('openstack')


OPENSTACK = _openstack()


def cli_env(url, microversion=MICROVERSION):
    """The environment of one CLI process: none of the caller's OS_*
    variables (a developer's cloud or the test runner's capture flags),
    admin_token auth on ``url``, unbuffered output (see module doc).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_AUTH_TYPE='admin_token', OS_TOKEN='admin',
               OS_ENDPOINT=url, PYTHONUNBUFFERED='1')
    if microversion:
        env['OS_PLACEMENT_API_VERSION'] = microversion
    return env


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

    def __repr__(self):
        return '<%s: out=%r err=%r>' % (self.command, self.out, self.err)


def run_batch(url, commands, microversion=MICROVERSION, timeout=300):
    """Run ``commands`` in one interactive CLI process; a Result each.

    Auth comes from OS_* variables (interactive mode would read
    command-line options as commands).
    """
    lines = []
    for i, command in enumerate(commands):
        lines.append(command)
        lines.append('shell sh -c "echo @@%d@@; echo @@%d@@ 1>&2"' % (i, i))
    proc = subprocess.run([OPENSTACK], input='\n'.join(lines) + '\n',
                          capture_output=True, text=True, timeout=timeout,
                          env=cli_env(url, microversion))
    outs = _split(proc.stdout, len(commands))
    errs = _split(proc.stderr, len(commands))
    return [Result(c, o, e) for c, o, e in zip(commands, outs, errs)]


def _split(text, count):
    parts = []
    for i in range(count):
        head, sep, text = text.partition('@@%d@@\n' % i)
        if not sep:
            raise AssertionError('CLI output ended before command %d:\n%s'
                                 % (i, head))
        parts.append(head)
    return parts


def _require_cli():
    if OPENSTACK is None:
        message = ('openstack CLI (osc-placement, in test-requirements.txt) '
                   'is not installed')
        if db_fixtures.db_required():
            raise RuntimeError(message)
        raise unittest.SkipTest(message)


class _OSCTestCase(testtools.TestCase):
    """One server per class, on ``backend``. Not collected itself: it
    has no tests.
    """

    backend = 'sqlite'
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _require_cli()
        db_url = None
        if cls.backend != 'sqlite':
            problem = db_fixtures._server_reachable(cls.backend)
            if problem:
                message = '%s is not reachable: %s' % (cls.backend, problem)
                if db_fixtures.db_required():
                    raise RuntimeError(message)
                raise unittest.SkipTest(message)
            db_url = db_fixtures.SERVER_URLS[cls.backend]
        cls.server = bench_server.ManagedServer(db_url=db_url).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()
            cls.server = None
        super().tearDownClass()

    def batch(self, *commands, **kwargs):
        results = run_batch(self.server.url, commands, **kwargs)
        for result in results:
            self.assertNotIn('Traceback', result.err, result.command)
            self.assertNotIn('HTTP 5', result.err, result.command)
        return results

    def run_one(self, *args, microversion=MICROVERSION):
        """One CLI invocation with the auth options on the command line."""
        argv = [OPENSTACK, '--os-auth-type', 'admin_token', '--os-token',
                'admin', '--os-endpoint', self.server.url]
        if microversion:
            argv += ['--os-placement-api-version', microversion]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        proc = subprocess.run(argv + list(args), capture_output=True,
                              text=True, timeout=120, env=env,
                              stdin=subprocess.DEVNULL)
        return Result(' '.join(args), proc.stdout, proc.stderr)

    def assertNoErrors(self, results):
        for result in results:
            self.assertEqual('', result.err.strip(),
                             'stderr of %r' % result.command)

    def assertError(self, result, status, *texts):
        """``result`` printed nothing and the one-line error a user reads:
        every one of ``texts``, then ``(HTTP <status>)``.
        """
        self.assertEqual('', result.out.strip(),
                         'stdout of %r' % result.command)
        lines = result.err.strip().splitlines()
        self.assertTrue(lines, 'no error from %r' % result.command)
        last = lines[-1]
        self.assertTrue(last.endswith('(HTTP %d)' % status),
                        '%r: %r' % (result.command, result.err))
        for text in texts:
            self.assertIn(text, last, result.command)

    def assertUsage(self, result, text):
        """A client-side error: no request was valid to send."""
        self.assertEqual('', result.out.strip(), result.command)
        self.assertIn(text, result.err, result.command)
        self.assertNotIn('(HTTP', result.err, result.command)

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

    @staticmethod
    def providers(result):
        """The providers of ``allocation candidate list -f json``."""
        return [c['resource provider'] for c in result.json]

    @staticmethod
    def values(result):
        """``-f value`` output as a list of lines."""
        return result.out.splitlines()


class _TestOSCPlacement(object):
    """The CLI tests, mixed into one _OSCTestCase per backend below."""

    def test_command_line_options(self):
        """The documented --os-* options reach our service; without
        --os-placement-api-version the CLI negotiates the newest version
        from ``GET /``; an older one gets the older body.
        """
        name = 'cli-opts-%s' % uuid.uuid4().hex[:8]
        created = self.run_one('resource provider create', name, '-f',
                               'json', microversion=None)
        self.assertEqual('', created.err.strip())
        body = created.json
        self.assertEqual(name, body['name'])
        self.assertEqual(0, body['generation'])
        self.assertEqual(body['uuid'], body['root_provider_uuid'])
        self.assertIsNone(body['parent_provider_uuid'])
        r = self.batch(
            'resource provider show %s -f json' % body['uuid'],
            'resource provider list --name %s -f json' % name,
            'trait list -f value',
            'resource provider show %s -f json' % MISSING,
            microversion='1.0')
        self.assertNoErrors(r[:2])
        # 1.0 has no tree fields.
        self.assertEqual({'uuid': body['uuid'], 'name': name,
                          'generation': 0}, r[0].json)
        self.assertEqual([r[0].json], r[1].json)
        self.assertUsage(r[2], 'requires at least version 1.6')
        self.assertError(r[3], 404, 'No resource provider with uuid %s found'
                         % MISSING)

    def test_provider_lifecycle(self):
        root, child, other = (str(uuid.uuid4()) for _ in range(3))
        name = 'cli-root-%s' % root[:8]
        r = self.batch(
            # 0-5
            'resource provider create %s --uuid %s -f json' % (name, root),
            'resource provider create cli-child-%s --uuid %s '
            '--parent-provider %s -f json' % (root[:8], child, root),
            'resource provider list --in-tree %s -f json' % root,
            'resource provider show %s -f json' % child,
            'resource provider set %s --name %s-renamed -f json'
            % (root, name),
            'resource provider list --name %s-renamed -f json' % name,
            # 6-13: bad creates and updates
            'resource provider create %s-renamed' % name,
            'resource provider create dup --uuid %s' % root,
            'resource provider create bad --uuid not-a-uuid',
            'resource provider create orphan --parent-provider %s' % MISSING,
            'resource provider set %s --name loop --parent-provider %s'
            % (root, child),
            'resource provider set %s --name x' % MISSING,
            'resource provider list --in-tree not-a-uuid',
            'resource provider list --uuid not-a-uuid',
            # 14-21: re-parent (1.37), rename, deletes
            'resource provider create cli-other-%s --uuid %s -f json'
            % (root[:8], other),
            'resource provider set %s --name cli-child-%s --parent-provider '
            '%s -f json' % (child, root[:8], other),
            'resource provider list --in-tree %s -f value -c uuid' % other,
            'resource provider delete %s' % other,
            'resource provider set %s --name cli-child-%s -f json'
            % (child, root[:8]),
            'resource provider delete %s' % child,
            'resource provider delete %s' % other,
            # 21-24
            'resource provider delete %s' % root,
            'resource provider delete %s' % root,
            'resource provider show %s -f json' % root,
            'resource provider show not-a-uuid',
        )
        self.assertNoErrors(r[:6])
        self.assertEqual(root, r[0].json['uuid'])
        self.assertEqual(name, r[0].json['name'])
        self.assertEqual(root, r[1].json['parent_provider_uuid'])
        self.assertEqual(root, r[1].json['root_provider_uuid'])
        self.assertEqual([root, child], [p['uuid'] for p in r[2].json])
        self.assertEqual('cli-child-%s' % root[:8], r[3].json['name'])
        self.assertEqual(root, r[3].json['root_provider_uuid'])
        self.assertEqual(name + '-renamed', r[4].json['name'])
        # A rename does not bump the generation.
        self.assertEqual(0, r[4].json['generation'])
        self.assertEqual([root], [p['uuid'] for p in r[5].json])
        self.assertError(r[6], 409, 'Conflicting resource provider name: '
                         '%s-renamed already exists' % name)
        self.assertError(r[7], 409, 'Conflicting resource provider uuid: '
                         '%s already exists' % root)
        self.assertError(r[8], 400, "JSON does not validate: 'not-a-uuid' "
                         "is not a 'uuid'")
        self.assertError(r[9], 400, 'Unable to create resource provider '
                         '"orphan"', 'parent provider UUID does not exist')
        self.assertError(r[10], 400, 'creating loop in the provider tree is '
                         'not allowed')
        self.assertError(r[11], 404, 'No resource provider with uuid %s '
                         'found' % MISSING)
        self.assertError(r[12], 400, "Invalid query string parameters: "
                         "'not-a-uuid' is not a 'uuid'")
        self.assertError(r[13], 400, "Invalid query string parameters: "
                         "'not-a-uuid' is not a 'uuid'")
        self.assertNoErrors(r[14:16])
        self.assertEqual(other, r[15].json['parent_provider_uuid'])
        self.assertEqual(other, r[15].json['root_provider_uuid'])
        self.assertEqual(sorted([other, child]), sorted(self.values(r[16])))
        self.assertError(r[17], 409, 'Unable to delete parent resource '
                         'provider %s: It has child resource providers.'
                         % other)
        # A rename without --parent-provider keeps the parent.
        self.assertNoErrors(r[18:22])
        self.assertEqual(other, r[18].json['parent_provider_uuid'])
        self.assertError(r[22], 404, 'No resource provider with uuid %s '
                         'found for delete' % root)
        self.assertError(r[23], 404, 'No resource provider with uuid %s '
                         'found' % root)
        self.assertError(r[24], 404, 'No resource provider with uuid '
                         'not-a-uuid found')

    def test_resource_classes(self):
        rp = str(uuid.uuid4())
        name = 'CUSTOM_CLI_GPU_%s' % rp[:8].upper()
        r = self.batch(*self.create_commands(rp) + [
            # 1-4
            'resource class create %s' % name,
            'resource class show %s -f json' % name,
            'resource class list -f json',
            'resource class show VCPU -f json',
            # 5-11: errors
            'resource class create %s' % name,
            'resource class create NOT_CUSTOM',
            'resource class create VCPU',
            'resource class show CUSTOM_CLI_NONE',
            'resource class delete CUSTOM_CLI_NONE',
            'resource class delete VCPU',
            'resource class set VCPU',
            # 12-14: set (PUT, 1.7) creates or confirms
            'resource class set %s_SET' % name,
            'resource class set %s_SET' % name,
            'resource class show %s_SET -f value' % name,
            # 15-18: in use
            'resource provider inventory set %s --resource %s=4 -f value'
            % (rp, name),
            'resource class delete %s' % name,
            'resource provider inventory delete %s' % rp,
            'resource class delete %s' % name,
            'resource class show %s -f json' % name,
            'resource class delete %s_SET' % name,
        ])[1:]
        self.assertNoErrors(r[:4])
        self.assertEqual({'name': name}, r[1].json)
        names = [c['name'] for c in r[2].json]
        self.assertIn(name, names)
        self.assertIn('VCPU', names)
        self.assertEqual({'name': 'VCPU'}, r[3].json)
        self.assertError(r[4], 409, 'Conflicting resource class already '
                         'exists: %s' % name)
        pattern = "does not match '^CUSTOM_[A-Z0-9_]+$'"
        self.assertError(r[5], 400, "JSON does not validate: 'NOT_CUSTOM' "
                         + pattern)
        self.assertError(r[6], 400, "JSON does not validate: 'VCPU' "
                         + pattern)
        self.assertError(r[7], 404, 'No such resource class CUSTOM_CLI_NONE')
        self.assertError(r[8], 404, 'No such resource class CUSTOM_CLI_NONE')
        self.assertError(r[9], 400, 'Error in delete resource class: Cannot '
                         'delete standard resource class VCPU')
        self.assertError(r[10], 400, "JSON does not validate: 'VCPU' "
                         + pattern)
        self.assertNoErrors(r[11:15])
        self.assertEqual([name + '_SET'], self.values(r[13]))
        self.assertEqual(['%s 1.0 1 2147483647 0 1 4' % name],
                         self.values(r[14]))
        self.assertError(r[15], 409, 'Error in delete resource class: Cannot '
                         'delete resource class %s. Class is in use in '
                         'inventory.' % name)
        self.assertNoErrors(r[16:18])
        self.assertError(r[18], 404, 'No such resource class %s' % name)
        self.assertNoErrors(r[19:])

    def test_traits(self):
        rp = str(uuid.uuid4())
        fast = 'CUSTOM_CLI_FAST_%s' % rp[:8].upper()
        r = self.batch(*self.create_commands(rp) + [
            # 1-7
            'trait create %s' % fast,
            'trait create %s' % fast,
            'trait show %s -f json' % fast,
            'trait list --name in:%s,HW_CPU_X86_AVX2 -f json' % fast,
            'resource provider trait set %s --trait %s '
            '--trait HW_CPU_X86_AVX2 -f json' % (rp, fast),
            'resource provider trait list %s -f json' % rp,
            'trait list --associated -f value',
            # 8-17: errors
            'trait delete %s' % fast,
            'trait create NOT_CUSTOM',
            'trait show CUSTOM_CLI_NONE',
            'trait delete CUSTOM_CLI_NONE',
            'trait delete HW_CPU_X86_AVX2',
            'resource provider trait set %s --trait CUSTOM_CLI_NONE' % rp,
            'resource provider trait set %s --trait HW_CPU_X86_AVX2' % MISSING,
            'resource provider trait list %s' % MISSING,
            'resource provider trait delete %s' % MISSING,
            'trait list --name startswith:HW_CPU_X86_AVX5 -f value',
            # 18-21
            'resource provider show %s -f value -c generation' % rp,
            'resource provider trait delete %s' % rp,
            'resource provider trait list %s -f json' % rp,
            'trait delete %s' % fast,
            'trait show %s' % fast,
        ])[1:]
        self.assertNoErrors(r[:7])
        self.assertEqual({'name': fast}, r[2].json)
        both = sorted([fast, 'HW_CPU_X86_AVX2'])
        self.assertEqual(both, sorted(t['name'] for t in r[3].json))
        self.assertEqual(both, sorted(t['name'] for t in r[4].json))
        self.assertEqual(both, sorted(t['name'] for t in r[5].json))
        self.assertIn(fast, self.values(r[6]))
        self.assertError(r[7], 409, 'The trait %s is in use by a resource '
                         'provider.' % fast)
        self.assertError(r[8], 400, 'The trait is invalid. A valid trait '
                         'must be no longer than 255 characters, start with '
                         'the prefix "CUSTOM_"')
        self.assertError(r[9], 404, 'No such trait(s): CUSTOM_CLI_NONE.')
        self.assertError(r[10], 404, 'No such trait(s): CUSTOM_CLI_NONE.')
        self.assertError(r[11], 400, 'Cannot delete standard trait '
                         'HW_CPU_X86_AVX2.')
        self.assertError(r[12], 400, 'No such trait CUSTOM_CLI_NONE')
        for result in r[13:16]:
            self.assertError(result, 404, 'No resource provider with uuid '
                             '%s found' % MISSING)
        avx5 = self.values(r[16])
        self.assertIn('HW_CPU_X86_AVX512F', avx5)
        self.assertTrue(all(t.startswith('HW_CPU_X86_AVX5') for t in avx5))
        self.assertNoErrors(r[17:21])
        # Only the one successful trait set bumped the generation.
        self.assertEqual(['1'], self.values(r[17]))
        self.assertEqual([], r[19].json)
        self.assertError(r[21], 404, 'No such trait(s): %s.' % fast)

    def test_inventories(self):
        rp, agg = str(uuid.uuid4()), str(uuid.uuid4())
        r = self.batch(*self.create_commands(rp) + [
            # 1-12
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
            'resource provider inventory set %s --amend --dry-run --resource '
            'DISK_GB=20 -f json' % rp,
            'resource provider inventory delete %s --resource-class '
            'MEMORY_MB' % rp,
            'resource provider inventory list %s -f json' % rp,
            'resource provider inventory show %s MEMORY_MB -f json' % rp,
            'resource provider inventory delete %s' % rp,
            'resource provider inventory list %s -f json' % rp,
            # 13-24: errors
            'resource provider inventory set %s --resource VCPU=abc' % rp,
            'resource provider inventory set %s --resource NOPE=1' % rp,
            'resource provider inventory set %s --resource VCPU=4 '
            '--resource VCPU:reserved=5' % rp,
            'resource provider inventory set %s --resource VCPU=4' % MISSING,
            'resource provider inventory class set %s VCPU --total 0' % rp,
            'resource provider inventory class set %s NOPE --total 1' % rp,
            'resource provider inventory delete %s --resource-class VCPU'
            % rp,
            'resource provider inventory list %s' % MISSING,
            'resource provider inventory show %s VCPU' % rp,
            'resource provider show %s -f value -c generation' % rp,
            # 22-26: --aggregate applies to every member
            'resource provider aggregate set %s --aggregate %s '
            '--generation 7 -f value' % (rp, agg),
            'resource provider aggregate set %s --aggregate %s '
            '--generation 5 -f value' % (rp, agg),
            'resource provider inventory set %s --aggregate --resource '
            'VCPU=2 -f value' % agg,
            'resource provider inventory list %s -f value' % rp,
            'resource provider inventory set %s --aggregate --resource '
            'VCPU=2' % MISSING,
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
        self.assertError(r[4], 400, 'No inventory record with resource '
                         'class for resource provider %s' % rp)
        self.assertNoErrors(r[5:9])
        amended = {i['resource_class']: i for i in r[5].json}
        self.assertEqual(['DISK_GB', 'MEMORY_MB', 'VCPU'], sorted(amended))
        self.assertEqual(100, amended['VCPU']['total'])
        dry = {i['resource_class']: i['total'] for i in r[6].json}
        self.assertEqual(20, dry['DISK_GB'])
        self.assertEqual(['DISK_GB', 'VCPU'],
                         sorted(i['resource_class'] for i in r[8].json))
        # The dry run wrote nothing.
        self.assertEqual([10], [i['total'] for i in r[8].json
                                if i['resource_class'] == 'DISK_GB'])
        self.assertError(r[9], 404, 'No inventory of class MEMORY_MB for %s'
                         % rp)
        self.assertNoErrors(r[10:12])
        self.assertEqual([], r[11].json)
        self.assertUsage(r[12], "invalid literal for int() with base 10: "
                         "'abc'")
        self.assertError(r[13], 400, 'Unknown resource class in inventory '
                         'for resource provider %s: No such resource class '
                         'NOPE.' % rp)
        self.assertError(r[14], 400, 'Unable to update inventory for '
                         "resource provider %s: Invalid inventory for 'VCPU' "
                         "on resource provider '%s'. The reserved value is "
                         'greater than total.' % (rp, rp))
        self.assertError(r[15], 404, 'No resource provider with uuid %s '
                         'found' % MISSING)
        self.assertError(r[16], 400, 'JSON does not validate: 0 is less than '
                         'the minimum of 1')
        self.assertError(r[17], 404, 'No such resource class NOPE.')
        self.assertError(r[18], 404, 'No inventory of class VCPU found for '
                         'delete')
        self.assertError(r[19], 404, 'No resource provider with uuid %s '
                         'found' % MISSING)
        self.assertError(r[20], 404, 'No inventory of class VCPU for %s' % rp)
        # Five successful inventory writes bumped the generation.
        self.assertEqual(['5'], self.values(r[21]))
        self.assertError(r[22], 409, "Resource provider's generation already "
                         "changed. Please update the generation and try "
                         "again.")
        self.assertNoErrors(r[23:26])
        self.assertEqual([agg], self.values(r[23]))
        self.assertEqual(['VCPU 1.0 1 2147483647 0 1 2 0'],
                         self.values(r[25]))
        # An aggregate without members is the user's mistake, said
        # client-side.
        self.assertUsage(r[26], 'No resource providers found in aggregate '
                         'with uuid %s' % MISSING)

    def test_aggregates(self):
        rp = str(uuid.uuid4())
        agg1, agg2 = sorted(str(uuid.uuid4()) for _ in range(2))
        r = self.batch(*self.create_commands(rp) + [
            'resource provider aggregate list %s -f json' % rp,
            'resource provider aggregate set %s --aggregate %s '
            '--aggregate %s --generation 0 -f json' % (rp, agg1, agg2),
            'resource provider aggregate list %s -f json' % rp,
            'resource provider list --member-of %s -f json' % agg2,
            'resource provider list --member-of %s,%s -f value -c uuid'
            % (MISSING, agg1),
            # 6-10: errors
            'resource provider aggregate set %s --aggregate %s '
            '--generation 0 -f json' % (rp, agg1),
            'resource provider aggregate set %s --aggregate efg '
            '--generation 1' % rp,
            'resource provider aggregate set %s --aggregate %s '
            '--generation 0' % (MISSING, agg1),
            'resource provider aggregate list %s' % MISSING,
            'resource provider list --member-of efg',
            # 11-12
            'resource provider aggregate set %s --generation 1 -f json' % rp,
            'resource provider aggregate list %s -f json' % rp,
        ])[1:]
        self.assertNoErrors(r[:5])
        self.assertEqual([], r[0].json)
        self.assertEqual([agg1, agg2], sorted(a['uuid'] for a in r[1].json))
        self.assertEqual([agg1, agg2], sorted(a['uuid'] for a in r[2].json))
        self.assertEqual([rp], [p['uuid'] for p in r[3].json])
        self.assertEqual([rp], self.values(r[4]))
        self.assertError(r[5], 409, "Resource provider's generation already "
                         "changed.")
        # osc-placement prints the last line of the detail: the whole
        # JSON-schema message is on that line.
        self.assertError(r[6], 400, "JSON does not validate: 'efg' is not a "
                         "'uuid'", "Failed validating 'format'",
                         "On instance['aggregates'][0]:")
        self.assertError(r[7], 404, 'No resource provider with uuid %s found'
                         % MISSING)
        self.assertError(r[8], 404, 'No resource provider with uuid %s found'
                         % MISSING)
        self.assertError(r[9], 400, "Invalid query string parameters: "
                         "Expected 'member_of' parameter to contain valid "
                         "UUID(s).")
        self.assertNoErrors(r[10:])
        self.assertEqual([], r[11].json)

    def test_allocations_and_usages(self):
        rp, shared = str(uuid.uuid4()), str(uuid.uuid4())
        consumer, other = str(uuid.uuid4()), str(uuid.uuid4())

        def alloc(consumer, *allocations, tail='--consumer-type INSTANCE'):
            return ('resource provider allocation set %s %s --project-id %s '
                    '--user-id %s %s' % (consumer, ' '.join(
                        '--allocation rp=' + a for a in allocations),
                        PROJECT, USER, tail))

        r = self.batch(*self.create_commands(rp, VCPU=8, MEMORY_MB=4096)
                       + self.create_commands(shared, DISK_GB=100) + [
            # 4-9
            alloc(consumer, rp + ',VCPU=2,MEMORY_MB=1024',
                  shared + ',DISK_GB=10', tail='--consumer-type INSTANCE '
                  '-f json'),
            'resource provider allocation show %s -f json' % consumer,
            'resource provider usage show %s -f json' % rp,
            'resource usage show %s -f json' % PROJECT,
            'resource usage show %s --user-id %s -f json' % (PROJECT, USER),
            'resource provider show %s --allocations -f json' % shared,
            # 10-22: errors
            alloc(other, rp + ',VCPU=9'),
            alloc(other, rp + ',DISK_GB=1'),
            alloc(other, rp + ',NOPE=1'),
            alloc(other, MISSING + ',VCPU=1'),
            alloc(other, rp + ',VCPU=0'),
            alloc(other, rp + ',VCPU=1', tail='--consumer-type bad-type'),
            alloc('not-a-uuid', rp + ',VCPU=1'),
            alloc(other, rp + ',VCPU=1', tail=''),
            'resource provider allocation delete %s' % other,
            'resource provider usage show %s' % MISSING,
            'resource provider inventory delete %s' % rp,
            'resource provider inventory set %s --resource VCPU=8' % rp,
            'resource provider delete %s' % rp,
            # 23-31: replace, unset, delete
            alloc(consumer, rp + ',VCPU=3', shared + ',DISK_GB=20',
                  tail='--consumer-type MIGRATION -f value'),
            'resource usage show %s -f json' % PROJECT,
            'resource provider allocation unset %s --provider %s '
            '--resource-class DISK_GB -f json' % (consumer, MISSING),
            'resource provider allocation unset %s --provider %s -f json'
            % (consumer, shared),
            'resource provider allocation unset %s --resource-class VCPU '
            '-f json' % consumer,
            'resource provider allocation show %s -f json' % consumer,
            'resource provider allocation show %s -f json' % other,
            'resource provider usage show %s -f value' % shared,
            'resource usage show %s --user-id %s -f value' % (
                PROJECT, MISSING),
        ])[4:]
        self.assertNoErrors(r[:6])
        mine = {rp: {'VCPU': 2, 'MEMORY_MB': 1024}, shared: {'DISK_GB': 10}}
        for shown in (r[0].json, r[1].json):
            self.assertEqual(mine, {a['resource_provider']: a['resources']
                                    for a in shown})
            for a in shown:
                self.assertEqual(PROJECT, a['project_id'])
                self.assertEqual(USER, a['user_id'])
                self.assertEqual('INSTANCE', a['consumer_type'])
                # The provider's generation (create, inventory, this).
                self.assertEqual(2, a['generation'])
        usage = {u['resource_class']: u['usage'] for u in r[2].json}
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 1024}, usage)
        # At 1.38 project usages are grouped by consumer type.
        grouped = [{'resource_class': 'INSTANCE',
                    'usage': {'VCPU': 2, 'MEMORY_MB': 1024, 'DISK_GB': 10,
                              'consumer_count': 1}}]
        self.assertEqual(grouped, r[3].json)
        self.assertEqual(grouped, r[4].json)
        self.assertEqual({consumer: {'resources': {'DISK_GB': 10},
                                     'consumer_generation': 1}},
                         r[5].json['allocations'])
        self.assertError(r[6], 409, 'Unable to allocate inventory', "for "
                         "'VCPU' on resource provider '%s'. The requested "
                         "amount would exceed the capacity." % rp)
        self.assertError(r[7], 409, "Inventory for 'DISK_GB' on resource "
                         "provider '%s' invalid." % rp)
        self.assertError(r[8], 400, 'Unable to allocate inventory for '
                         'consumer %s: No such resource class NOPE.' % other)
        self.assertError(r[9], 400, "Allocation for resource provider '%s' "
                         "that does not exist." % MISSING)
        self.assertError(r[10], 400, 'JSON does not validate: 0 is less than '
                         'the minimum of 1', "Failed validating 'minimum'")
        self.assertError(r[11], 400, "JSON does not validate: 'bad-type' "
                         "does not match '^[A-Z0-9_]+$'")
        self.assertError(r[12], 400, 'Malformed consumer_uuid: not-a-uuid')
        # At 1.38+ the CLI itself insists on a consumer type.
        self.assertUsage(r[13], '--consumer-type')
        self.assertError(r[14], 404, "No allocations for consumer '%s'"
                         % other)
        self.assertError(r[15], 404, 'No resource provider with uuid %s '
                         'found' % MISSING)
        self.assertError(r[16], 409, "Inventory for 'VCPU, MEMORY_MB' on "
                         "resource provider '%s' in use." % rp)
        self.assertError(r[17], 409, "update conflict: Inventory for "
                         "'MEMORY_MB' on resource provider '%s' in use." % rp)
        self.assertError(r[18], 409, 'Unable to delete resource provider '
                         '%s: Resource provider has allocations.' % rp)
        self.assertNoErrors(r[19:])
        self.assertEqual(sorted(["%s 3 {'VCPU': 3} %s %s MIGRATION"
                                 % (rp, PROJECT, USER),
                                 "%s 3 {'DISK_GB': 20} %s %s MIGRATION"
                                 % (shared, PROJECT, USER)]),
                         sorted(self.values(r[19])))
        self.assertEqual([{'resource_class': 'MIGRATION',
                           'usage': {'VCPU': 3, 'DISK_GB': 20,
                                     'consumer_count': 1}}], r[20].json)
        # Unsetting what the consumer does not hold changes nothing.
        self.assertEqual({rp: {'VCPU': 3}, shared: {'DISK_GB': 20}},
                         {a['resource_provider']: a['resources']
                          for a in r[21].json})
        # Every unset re-writes the consumer: generations 4, then 5.
        self.assertEqual([(rp, {'VCPU': 3}, 5)],
                         [(a['resource_provider'], a['resources'],
                           a['generation']) for a in r[22].json])
        # Removing the last class removes the allocations.
        self.assertEqual([], r[23].json)
        self.assertEqual([], r[24].json)
        self.assertEqual([], r[25].json)
        self.assertEqual(['DISK_GB 0'], self.values(r[26]))
        self.assertEqual([], self.values(r[27]))

    def test_allocation_candidates(self):
        rp, rp2, agg = (str(uuid.uuid4()) for _ in range(3))
        trait = 'CUSTOM_CLI_AC_%s' % rp[:8].upper()
        r = self.batch(*self.create_commands(rp, VCPU=8, MEMORY_MB=4096)
                       + self.create_commands(rp2, VCPU=4) + [
            'trait create %s' % trait,
            'resource provider trait set %s --trait %s' % (rp, trait),
            'resource provider aggregate set %s --aggregate %s '
            '--generation 1' % (rp2, agg),
            # 7-15
            'allocation candidate list --resource VCPU=2 '
            '--resource MEMORY_MB=1024 -f json',
            'allocation candidate list --resource VCPU=1 -f json',
            'allocation candidate list --resource VCPU=1 --required %s '
            '-f json' % trait,
            'allocation candidate list --resource VCPU=1 --forbidden %s '
            '-f json' % trait,
            'allocation candidate list --resource VCPU=1 --member-of %s '
            '-f json' % agg,
            'allocation candidate list --resource VCPU=1 --limit 1 -f json',
            'allocation candidate list --group 1 --resource VCPU=1 '
            '--group 2 --resource MEMORY_MB=1 --group-policy isolate '
            '-f json',
            'allocation candidate list --resource VCPU=5 -f json',
            'allocation candidate list --resource VCPU=9 -f json',
            # 16-24: errors
            'allocation candidate list',
            'allocation candidate list --resource VCPU=abc',
            'allocation candidate list --resource NOPE=1',
            'allocation candidate list --resource VCPU=1 --required '
            'CUSTOM_CLI_NONE',
            'allocation candidate list --resource VCPU=1 --member-of efg',
            'allocation candidate list --resource VCPU=1 --limit 0',
            'allocation candidate list --resource VCPU=0',
            'allocation candidate list --resource VCPU=1 --group-policy bad',
            'resource provider list --resource VCPU=abc',
            # 25-29: the provider list filters the candidates share
            'resource provider list --resource VCPU=5 -f value -c uuid',
            'resource provider list --required %s -f value -c uuid' % trait,
            'resource provider list --forbidden %s --member-of %s -f value '
            '-c uuid' % (trait, agg),
            'resource provider list --required CUSTOM_CLI_NONE',
            'resource provider list --resource NOPE=1',
        ])[4:]
        self.assertNoErrors(r[:12])
        candidates = r[3].json
        self.assertEqual(1, len(candidates))
        self.assertEqual(rp, candidates[0]['resource provider'])
        self.assertEqual(1, candidates[0]['#'])
        self.assertEqual('VCPU=2,MEMORY_MB=1024',
                         candidates[0]['allocation'])
        self.assertEqual('VCPU=0/8,MEMORY_MB=0/4096',
                         candidates[0]['inventory used/capacity'])
        self.assertEqual(trait, candidates[0]['traits'])
        self.assertEqual(sorted([rp, rp2]), sorted(self.providers(r[4])))
        self.assertEqual([rp], self.providers(r[5]))
        self.assertEqual([rp2], self.providers(r[6]))
        self.assertEqual([rp2], self.providers(r[7]))
        self.assertEqual(1, len(self.providers(r[8])))
        # isolate: VCPU and MEMORY_MB from different providers; only one
        # provider has memory and it is a root: no candidate.
        self.assertEqual([], self.providers(r[9]))
        self.assertEqual([rp], [c['resource provider'] for c in r[10].json])
        self.assertEqual([], r[11].json)
        self.assertUsage(r[12], 'At least one --resource must be specified.')
        self.assertError(r[13], 400, 'Requested resource VCPU expected '
                         'positive integer amount. Got: abc.')
        self.assertError(r[14], 400, 'Invalid resource class in resources '
                         'parameter: No such resource class NOPE.')
        self.assertError(r[15], 400, 'No such trait(s): CUSTOM_CLI_NONE.')
        self.assertError(r[16], 400, "Invalid query string parameters: "
                         "Expected 'member_of' parameter to contain valid "
                         "UUID(s).")
        self.assertError(r[17], 400, "Invalid query string parameters: '0' "
                         "does not match '^[1-9][0-9]*$'",
                         "Failed validating 'pattern' in "
                         "schema['properties']['limit']")
        self.assertError(r[18], 400, 'Requested resource VCPU requires '
                         'amount >= 1. Got: 0.')
        self.assertUsage(r[19], "argument --group-policy: invalid choice: "
                         "'bad'")
        self.assertError(r[20], 400, 'Requested resource VCPU expected '
                         'positive integer amount. Got: abc.')
        self.assertNoErrors(r[21:24])
        self.assertEqual([rp], self.values(r[21]))
        self.assertEqual([rp], self.values(r[22]))
        self.assertEqual([rp2], self.values(r[23]))
        self.assertError(r[24], 400, 'Invalid trait(s) in "required" '
                         'parameter: No such trait(s): CUSTOM_CLI_NONE.')
        self.assertError(r[25], 400, 'Invalid resource class in resources '
                         'parameter: No such resource class NOPE.')


for _backend in db_fixtures.BACKENDS:
    _name = 'TestOSCPlacement_%s' % _backend
    globals()[_name] = type(_name, (_TestOSCPlacement, _OSCTestCase),
                            {'backend': _backend, '__module__': __name__})
del _backend, _name
