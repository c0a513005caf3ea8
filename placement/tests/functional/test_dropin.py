"""Drop-in, both ways: upstream openstack-placement and ours take turns
on one database (SQLite, MariaDB/MySQL, PostgreSQL).

Upstream (16.0.0, in its own venv: ``tools/upstream_placement.py``) is a
black box driven only through its CLI and its HTTP API under gunicorn. It
creates the schema (``placement-manage db sync``) and a realistic data
set; every GET of a crawl of that data is recorded. Then ours, on the
same ``placement.conf``: ``placement-status upgrade check`` passes, ``db
sync`` changes nothing (revision, schema and rows), and every GET answers
what upstream did. Then ours writes, and upstream, pointed back at the
database, answers every GET as ours did.

Bodies are compared exactly, except ``request_id`` in error bodies and
lists whose order the API leaves unspecified (trait names, allocation
requests). Servers run with their working directory outside any checkout
(gunicorn puts it on ``sys.path``).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sqlalchemy as sa
import testtools

from placement.tests import fixtures as db_fixtures
from tools.bench import server as bench_server
from tools import upstream_placement as upstream_tool

REPO_ROOT = bench_server.REPO_ROOT
LATEST = '1.39'
# Every crawled path is read at each of these microversions.
GET_VERSIONS = ('1.0', '1.14', '1.38', LATEST)
PROJECT, USER = str(uuid.uuid4()), str(uuid.uuid4())
PROJECT2, USER2 = str(uuid.uuid4()), str(uuid.uuid4())


_VENV = {}


def upstream_venv():
    """The upstream venv (built on first use), or raise RuntimeError."""
    if 'path' not in _VENV:
        try:
            _VENV['path'] = upstream_tool.ensure_venv()
        except Exception as exc:  # any build failure, kept for reuse
            _VENV['path'] = None
            _VENV['error'] = str(exc)
    if _VENV['path'] is None:
        raise RuntimeError(_VENV['error'])
    return _VENV['path']


def _ours(tool):
    local = os.path.join(os.path.dirname(sys.executable), tool)
    return local if os.access(local, os.X_OK) else shutil.which(tool)


class Client(object):
    """JSON over HTTP with noauth2's admin token."""

    def __init__(self, url):
        self.url = url

    def request(self, method, path, body=None, version=LATEST):
        headers = {'X-Auth-Token': 'admin', 'Accept': 'application/json'}
        if version:
            headers['OpenStack-API-Version'] = 'placement %s' % version
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def call(self, method, path, body=None, version=LATEST,
             expect=(200, 201, 204)):
        status, raw = self.request(method, path, body, version)
        if status not in expect:
            raise AssertionError('%s %s at %s: %s %s' % (
                method, path, version, status, raw[:2000]))
        return json.loads(raw) if raw else None

    def generation(self, rp):
        return self.call('GET', '/resource_providers/%s' % rp)['generation']

    def create_provider(self, name, parent=None):
        rp = str(uuid.uuid4())
        body = {'name': name, 'uuid': rp}
        if parent:
            body['parent_provider_uuid'] = parent
        self.call('POST', '/resource_providers', body)
        return rp

    def set_inventories(self, rp, inventories):
        self.call('PUT', '/resource_providers/%s/inventories' % rp,
                  {'resource_provider_generation': self.generation(rp),
                   'inventories': inventories})

    def set_traits(self, rp, traits):
        self.call('PUT', '/resource_providers/%s/traits' % rp,
                  {'resource_provider_generation': self.generation(rp),
                   'traits': traits})

    def set_aggregates(self, rp, aggregates):
        self.call('PUT', '/resource_providers/%s/aggregates' % rp,
                  {'resource_provider_generation': self.generation(rp),
                   'aggregates': aggregates})

    def consumer_generation(self, consumer):
        return self.call('GET', '/allocations/%s' % consumer).get(
            'consumer_generation')

    def allocate(self, consumer, allocations, consumer_type='INSTANCE',
                 project=PROJECT, user=USER):
        self.call('PUT', '/allocations/%s' % consumer, {
            'allocations': {rp: {'resources': resources}
                            for rp, resources in allocations.items()},
            'project_id': project, 'user_id': user,
            'consumer_generation': self.consumer_generation(consumer),
            'consumer_type': consumer_type})


def inventory(total, **fields):
    record = {'total': total}
    record.update(fields)
    return record


class Served(bench_server.ManagedServer):
    """One gunicorn worker on 127.0.0.1, run from a scratch directory,
    on the configuration the caller wrote (``env`` names it).
    """

    def __init__(self, argv, env, workdir, name):
        super().__init__(log_path=os.path.join(workdir, name + '.log'))
        port = urllib.parse.urlsplit(self.url).port
        self.argv = argv + ['-w', '1', '-b', '127.0.0.1:%d' % port,
                            'placement.wsgi.api:application']
        self.env = env
        self.workdir = workdir

    def start(self):
        self._log = open(self.log_path, 'ab')
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.workdir, stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        try:
            bench_server.wait_until_up(self.url, 90, self.process)
        except RuntimeError as exc:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError('%s\n%s' % (exc, tail))
        return self


class _EmptyDatabase(db_fixtures.Database):
    """A fresh database with no schema: upstream creates it."""

    def __init__(self, conf, backend):
        super().__init__(conf, backend, seed=False)

    def create_schema(self):
        pass


def snapshot(engine):
    """Schema (tables, columns, keys, indexes) and every row."""
    inspector = sa.inspect(engine)
    tables = {}
    with engine.connect() as conn:
        for name in sorted(inspector.get_table_names()):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            rows = sorted(repr(tuple(row)) for row in
                          conn.execute(sa.select(table)))
            tables[name] = {
                'columns': [(c['name'], str(c['type']), c['nullable'])
                            for c in inspector.get_columns(name)],
                'pk': inspector.get_pk_constraint(name)[
                    'constrained_columns'],
                'indexes': sorted(
                    (i['name'], tuple(i['column_names']), bool(i['unique']))
                    for i in inspector.get_indexes(name)),
                'unique': sorted(
                    (u['name'], tuple(u['column_names']))
                    for u in inspector.get_unique_constraints(name)),
                'fks': sorted(
                    (tuple(f['constrained_columns']), f['referred_table'],
                     tuple(f['referred_columns']))
                    for f in inspector.get_foreign_keys(name)),
                'rows': rows,
            }
    return tables


# Error details known to differ from upstream's (status, title and code
# still compared): (path prefix, versions, why). Each is a bug of ours to
# fix; remove its entry with the fix.
KNOWN_DETAIL_DIFFERENCES = (
    ('/resource_providers?required=in:', ('1.0', '1.14', '1.38'),
     "upstream prefixes the 'in:' too-early message with 'Invalid query "
     "string parameters: '"),
)


def _loose_detail(path, version):
    return any(path.startswith(prefix) and version in versions
               for prefix, versions, _why in KNOWN_DETAIL_DIFFERENCES)


def normalize(path, status, raw, version=None, backend=None):
    """What must be equal: status and body, minus request ids, trailing
    blanks of error details (upstream ends them with two spaces) and the
    order of lists the API leaves unspecified: trait names, aggregates
    (upstream's order on MySQL is not creation order),
    allocation requests and their mappings; on PostgreSQL also provider
    lists (upstream does not ORDER BY them; ours lists by creation).
    """
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode('utf-8', 'replace')
    if isinstance(body, dict):
        for error in body.get('errors', ()):
            error.pop('request_id', None)
            if isinstance(error.get('detail'), str):
                error['detail'] = error['detail'].rstrip()
                if _loose_detail(path, version):
                    error['detail'] = '(not compared)'
        if isinstance(body.get('traits'), list):
            body['traits'] = sorted(body['traits'])
        for request in body.get('allocation_requests') or ():
            if isinstance(request, dict) and 'mappings' in request:
                request['mappings'] = {k: sorted(v) for k, v in
                                       request['mappings'].items()}
        if isinstance(body.get('allocation_requests'), list):
            body['allocation_requests'] = sorted(
                body['allocation_requests'],
                key=lambda r: json.dumps(r, sort_keys=True))
        if isinstance(body.get('aggregates'), list):
            body['aggregates'] = sorted(body['aggregates'])
        if (backend == 'postgresql' and
                isinstance(body.get('resource_providers'), list)):
            body['resource_providers'] = sorted(
                body['resource_providers'], key=lambda p: p['uuid'])
        for summary in (body.get('provider_summaries') or {}).values():
            if isinstance(summary, dict) and 'traits' in summary:
                summary['traits'] = sorted(summary['traits'])
    return status, body


def crawl(client, consumers=()):
    """Every GET path of the data ``client`` serves, crawled at LATEST:
    providers and each of their sub-resources, their consumers'
    allocations, classes, traits, usages, filtered lists, candidates.
"""
    paths = ['/', '/resource_classes', '/traits', '/traits?associated=true',
             '/traits?name=startswith:CUSTOM_',
             '/traits?name=in:CUSTOM_GOLD,HW_CPU_X86_AVX2',
             '/resource_classes/CUSTOM_GONE', '/traits/CUSTOM_GONE',
             '/resource_providers/%s' % uuid.UUID(int=1),
             '/allocations/%s' % uuid.UUID(int=2)]
    providers = client.call('GET', '/resource_providers')[
        'resource_providers']
    consumers = set(consumers)
    aggregates = set()
    for rp in providers:
        base = '/resource_providers/%s' % rp['uuid']
        paths += [base] + [base + tail for tail in (
            '/inventories', '/usages', '/traits', '/aggregates',
            '/allocations')]
        inventories = client.call('GET', base + '/inventories')
        paths += [base + '/inventories/' + rc
                  for rc in sorted(inventories['inventories'])]
        aggregates.update(client.call('GET', base + '/aggregates')[
            'aggregates'])
        consumers.update(client.call('GET', base + '/allocations')[
            'allocations'])
        paths += ['/resource_providers?in_tree=%s' % rp['uuid']]
    for rc in client.call('GET', '/resource_classes')['resource_classes']:
        paths.append('/resource_classes/%s' % rc['name'])
    for trait in client.call('GET', '/traits?name=startswith:CUSTOM_')[
            'traits']:
        paths.append('/traits/%s' % trait)
    for consumer in sorted(consumers):
        paths.append('/allocations/%s' % consumer)
    for agg in sorted(aggregates):
        paths += ['/resource_providers?member_of=%s' % agg,
                  '/resource_providers?member_of=!%s' % agg]
    paths += ['/resource_providers?member_of=in:%s' % ','.join(
        sorted(aggregates))]
    for project, user in ((PROJECT, USER), (PROJECT2, USER2),
                          ('00000000-0000-0000-0000-000000000000', None)):
        paths += ['/usages?project_id=%s' % project,
                  '/usages?project_id=%s&consumer_type=INSTANCE' % project,
                  '/usages?project_id=%s&consumer_type=all' % project,
                  '/usages?project_id=%s&consumer_type=unknown' % project]
        if user:
            paths.append('/usages?project_id=%s&user_id=%s' % (project,
                                                               user))
    paths += ['/resource_providers?' + q for q in (
        'resources=VCPU:1', 'resources=DISK_GB:10,MEMORY_MB:1024',
        'required=CUSTOM_GOLD', 'required=!CUSTOM_GOLD',
        'required=in:CUSTOM_GOLD,CUSTOM_SILVER', 'name=cn1',
        'resources=CUSTOM_FPGA:1&required=CUSTOM_SILVER')]
    paths += ['/allocation_candidates?' + q for q in (
        'resources=VCPU:1,MEMORY_MB:512,DISK_GB:10',
        'resources=VCPU:1&required=CUSTOM_GOLD',
        'resources=VCPU:2&required=!CUSTOM_GOLD',
        'resources=DISK_GB:10&member_of=in:%s' % ','.join(sorted(aggregates)),
        'resources1=VCPU:1&resources2=SRIOV_NET_VF:1&group_policy=isolate',
        'resources1=VCPU:1&resources2=SRIOV_NET_VF:1&group_policy=none'
        '&same_subtree=1,2',
        'resources=CUSTOM_FPGA:1&root_required=HW_CPU_X86_AVX2',
        'resources=VGPU:1', 'resources=CUSTOM_MAGIC:1',
        'resources=VCPU:1&required=COMPUTE_STATUS_DISABLED',
        'resources=VCPU:1,DISK_GB:1&resources1=CUSTOM_FPGA:1'
        '&group_policy=none',
        'resources=VCPU:100000')]
    return paths


def record(client, paths, backend):
    """{(version, path): (status, normalized body)} for every GET."""
    return {(version, path): normalize(path, *client.request(
        'GET', path, version=version), version=version, backend=backend)
        for path in paths for version in GET_VERSIONS}


def build_upstream_data(c):
    """A cloud as nova, neutron and cyborg leave it, through the API."""
    c.call('POST', '/resource_classes', {'name': 'CUSTOM_FPGA'})
    for rc in ('CUSTOM_MAGIC', 'CUSTOM_GONE'):
        c.call('PUT', '/resource_classes/%s' % rc)
    c.call('DELETE', '/resource_classes/CUSTOM_GONE')
    for trait in ('CUSTOM_GOLD', 'CUSTOM_SILVER', 'CUSTOM_GONE'):
        c.call('PUT', '/traits/%s' % trait)
    c.call('DELETE', '/traits/CUSTOM_GONE')
    agg1, agg2 = str(uuid.uuid4()), str(uuid.uuid4())
    ids = {'agg1': agg1, 'agg2': agg2}

    # A nested compute node: NUMA children, a PF with VFs and an FPGA.
    cn1 = ids['cn1'] = c.create_provider('cn1')
    numa0 = ids['numa0'] = c.create_provider('cn1-numa0', cn1)
    numa1 = ids['numa1'] = c.create_provider('cn1-numa1', cn1)
    pf0 = ids['pf0'] = c.create_provider('cn1-numa0-pf0', numa0)
    c.set_inventories(cn1, {'DISK_GB': inventory(500, reserved=10)})
    for numa in (numa0, numa1):
        c.set_inventories(numa, {
            'VCPU': inventory(8, allocation_ratio=4.0),
            'MEMORY_MB': inventory(16384, reserved=512, min_unit=128,
                                   step_size=128, allocation_ratio=1.5)})
    c.set_inventories(pf0, {'SRIOV_NET_VF': inventory(16, max_unit=4),
                            'CUSTOM_FPGA': inventory(2)})
    c.set_traits(cn1, ['HW_CPU_X86_AVX2', 'CUSTOM_GOLD'])
    c.set_traits(pf0, ['CUSTOM_SILVER', 'HW_NIC_SRIOV'])
    c.set_aggregates(cn1, [agg1])

    # A flat compute node with a vGPU inventory that will be reshaped.
    cn2 = ids['cn2'] = c.create_provider('cn2')
    c.set_inventories(cn2, {'VCPU': inventory(16), 'MEMORY_MB':
                            inventory(32768), 'VGPU': inventory(4),
                            'CUSTOM_MAGIC': inventory(3)})
    c.set_traits(cn2, ['HW_CPU_X86_AVX2', 'COMPUTE_STATUS_DISABLED'])
    c.set_aggregates(cn2, [agg1, agg2])

    # Shared storage in both aggregates.
    ss = ids['ss'] = c.create_provider('shared-disk')
    c.set_inventories(ss, {'DISK_GB': inventory(10000, max_unit=2000,
                                                allocation_ratio=1.0)})
    c.set_traits(ss, ['MISC_SHARES_VIA_AGGREGATE'])
    c.set_aggregates(ss, [agg1, agg2])

    # A provider that is renamed and re-parented (1.37), and one deleted.
    spare = ids['spare'] = c.create_provider('spare')
    c.call('PUT', '/resource_providers/%s' % spare,
           {'name': 'cn2-spare', 'parent_provider_uuid': cn2})
    gone = c.create_provider('gone')
    c.set_inventories(gone, {'VCPU': inventory(1)})
    c.call('DELETE', '/resource_providers/%s' % gone)

    # Consumers of several types, projects and generations.
    inst1, inst2, inst3, mig1, old1 = (str(uuid.uuid4()) for _ in range(5))
    ids.update(inst1=inst1, inst2=inst2, inst3=inst3, mig1=mig1, old1=old1)
    c.allocate(inst1, {numa0: {'VCPU': 2, 'MEMORY_MB': 2048},
                       ss: {'DISK_GB': 20}})
    c.allocate(inst1, {numa0: {'VCPU': 4, 'MEMORY_MB': 4096},
                       ss: {'DISK_GB': 40}})
    c.allocate(inst2, {numa1: {'VCPU': 1, 'MEMORY_MB': 1024},
                       pf0: {'SRIOV_NET_VF': 2, 'CUSTOM_FPGA': 1},
                       cn1: {'DISK_GB': 10}}, project=PROJECT2, user=USER2)
    c.allocate(inst3, {cn2: {'VCPU': 2, 'MEMORY_MB': 512, 'VGPU': 1}})
    # A move: the instance on the target, the migration on the source.
    c.call('POST', '/allocations', {
        inst3: {'allocations': {cn2: {'resources': {
            'VCPU': 2, 'MEMORY_MB': 512, 'VGPU': 1, 'CUSTOM_MAGIC': 1}}},
            'project_id': PROJECT, 'user_id': USER,
            'consumer_generation': c.consumer_generation(inst3),
            'consumer_type': 'INSTANCE'},
        mig1: {'allocations': {numa1: {'resources': {'VCPU': 1}}},
               'project_id': PROJECT, 'user_id': USER,
               'consumer_generation': None, 'consumer_type': 'MIGRATION'}})
    # A consumer written by an old client: no project/user (1.0 format).
    c.call('PUT', '/allocations/%s' % old1, {'allocations': [
        {'resource_provider': {'uuid': cn2}, 'resources': {'VCPU': 1}}]},
        version='1.0')
    # An allocation that was removed again.
    temp = str(uuid.uuid4())
    c.allocate(temp, {cn2: {'VCPU': 1}})
    c.call('DELETE', '/allocations/%s' % temp)

    # Reshape cn2's vGPUs into a child provider, with their allocation.
    gpu = ids['gpu'] = c.create_provider('cn2-gpu0', cn2)
    c.call('POST', '/reshaper', {
        'inventories': {
            cn2: {'resource_provider_generation': c.generation(cn2),
                  'inventories': {'VCPU': inventory(16),
                                  'MEMORY_MB': inventory(32768),
                                  'CUSTOM_MAGIC': inventory(3)}},
            gpu: {'resource_provider_generation': c.generation(gpu),
                  'inventories': {'VGPU': inventory(4)}}},
        'allocations': {inst3: {
            'allocations': {cn2: {'resources': {'VCPU': 2, 'MEMORY_MB': 512,
                                                'CUSTOM_MAGIC': 1}},
                            gpu: {'resources': {'VGPU': 1}}},
            'project_id': PROJECT, 'user_id': USER,
            'consumer_generation': c.consumer_generation(inst3),
            'consumer_type': 'INSTANCE'}}})
    return ids


def write_through(c, ids):
    """Writes of every kind on top of the other implementation's data."""
    c.call('PUT', '/resource_classes/CUSTOM_LATER')
    c.call('PUT', '/traits/CUSTOM_LATER')
    c.call('DELETE', '/traits/CUSTOM_SILVER', expect=(409,))
    cn3 = c.create_provider('cn3-%s' % uuid.uuid4().hex[:6])
    c.set_inventories(cn3, {'VCPU': inventory(4), 'CUSTOM_LATER': inventory(
        10, reserved=2)})
    c.set_traits(cn3, ['CUSTOM_LATER', 'CUSTOM_GOLD'])
    c.set_aggregates(cn3, [ids['agg2']])
    c.set_inventories(ids['numa1'], {
        'VCPU': inventory(8, allocation_ratio=2.0),
        'MEMORY_MB': inventory(16384, reserved=512, min_unit=128,
                               step_size=128, allocation_ratio=1.5)})
    c.set_traits(ids['cn2'], ['HW_CPU_X86_AVX2'])
    c.set_aggregates(ids['cn1'], [ids['agg1'], ids['agg2']])
    # Move inst1 onto cn3 and give it a claim on the shared disk.
    c.allocate(ids['inst1'], {cn3: {'VCPU': 2, 'CUSTOM_LATER': 1},
                              ids['ss']: {'DISK_GB': 40}})
    c.allocate(ids['mig1'], {ids['numa1']: {'VCPU': 1}},
               consumer_type='MIGRATION', project=PROJECT2, user=USER2)
    c.call('DELETE', '/allocations/%s' % ids['inst2'])
    new = str(uuid.uuid4())
    c.allocate(new, {ids['pf0']: {'SRIOV_NET_VF': 4},
                     ids['numa0']: {'VCPU': 1, 'MEMORY_MB': 128}})
    c.call('PUT', '/allocations/%s' % str(uuid.uuid4()), {'allocations': [
        {'resource_provider': {'uuid': ids['cn2']},
         'resources': {'MEMORY_MB': 256}}]}, version='1.0')
    c.call('DELETE', '/resource_providers/%s' % ids['spare'])
    return [new]


class _DropInTest(object):
    """Upstream's database served by ours, then ours' by upstream (mixed
    into one TestCase per backend below).
    """

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        db_fixtures.require_backend(self, self.backend)
        try:
            self.venv = upstream_venv()
        except RuntimeError as exc:
            message = 'no upstream placement venv: %s' % exc
            if db_fixtures.db_required():
                self.fail(message)
            self.skipTest(message)
        conf = self.useFixture(db_fixtures.ConfFixture()).conf
        self.db = self.useFixture(_EmptyDatabase(conf, self.backend))
        self.workdir = tempfile.mkdtemp(prefix='placement-dropin-')
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self.conf_file = os.path.join(self.workdir, 'placement.conf')
        policy_file = os.path.join(self.workdir, 'policy.yaml')
        # The reshaper is for services by default; noauth2 is only admin.
        with open(policy_file, 'w') as f:
            f.write('"placement:reshaper:reshape": "role:admin"\n')
        with open(self.conf_file, 'w') as f:
            f.write('[DEFAULT]\ndebug = False\n[api]\nauth_strategy = '
                    'noauth2\n[oslo_policy]\npolicy_file = %s\n'
                    '[placement_database]\nconnection = %s\n'
                    % (policy_file, self.db.url))
        upstream_env = upstream_tool._clean_env()
        ours_env = dict(os.environ)
        ours_env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p)
        for env in (upstream_env, ours_env):
            for name in [n for n in env if n.startswith('OS_')]:
                del env[name]
            env['OS_PLACEMENT_CONFIG_DIR'] = self.workdir
        self.envs = {'upstream': upstream_env, 'ours': ours_env}
        self.tools = {
            'upstream': {tool: [os.path.join(self.venv, 'bin', tool)]
                         for tool in ('placement-manage',
                                      'placement-status', 'gunicorn')},
            'ours': {'placement-manage': [_ours('placement-manage')],
                     'placement-status': [_ours('placement-status')],
                     'gunicorn': [sys.executable, '-m', 'gunicorn']},
        }

    def cli(self, who, tool, *args, expect=0):
        argv = self.tools[who][tool] + ['--config-file', self.conf_file]
        proc = subprocess.run(argv + list(args), env=self.envs[who],
                              cwd=self.workdir, capture_output=True,
                              text=True, timeout=300)
        self.assertEqual(expect, proc.returncode, '%s %s %s:\n%s%s' % (
            who, tool, ' '.join(args), proc.stdout, proc.stderr))
        return proc.stdout

    def db_version(self, who):
        # The revision is the last line (log lines may precede it).
        return self.cli(who, 'placement-manage', 'db',
                        'version').strip().splitlines()[-1]

    def serve(self, who):
        server = Served(list(self.tools[who]['gunicorn']), self.envs[who],
                        self.workdir, who).start()
        self.addCleanup(server.stop)
        return server

    def assertSameAnswers(self, upstream, ours, who):
        """Every GET answered the same by both, except where upstream
        fails with a 5xx (e.g. its /usages at 1.38+ on PostgreSQL: a
        GROUP BY error); ours never may.
        """
        diffs = []
        for key in sorted(upstream):
            if ours[key][0] >= 500:
                diffs.append('GET %s at %s: ours %r' % (key[1], key[0],
                                                        ours[key]))
            elif upstream[key][0] < 500 and upstream[key] != ours[key]:
                diffs.append('GET %s at %s\n  upstream: %r\n  ours: %r' % (
                    key[1], key[0], upstream[key], ours[key]))
        dump = os.environ.get('PLACEMENT_TEST_DROPIN_DUMP')
        if diffs and dump:
            with open('%s-%s-%s.json' % (dump, self.backend, who), 'w') as f:
                json.dump([[k, upstream[k], ours[k]] for k in sorted(upstream)
                           if upstream[k] != ours[k]], f, indent=1)
        if diffs:
            self.fail('%s: %d of %d GETs differ; first ones:\n%s' % (
                who, len(diffs), len(upstream), '\n'.join(diffs[:8])))

    def test_upstream_then_ours_then_upstream(self):
        # 1. Upstream creates the schema and the data.
        self.cli('upstream', 'placement-manage', 'db', 'sync')
        revision = self.db_version('upstream')
        upstream = self.serve('upstream')
        client = Client(upstream.url)
        ids = build_upstream_data(client)
        paths = crawl(client)
        seen = record(client, paths, self.backend)
        upstream.stop()
        before = snapshot(self.db.engine)

        # 2. Ours on the same database: ready, nothing to migrate, and
        # every GET the same.
        self.cli('ours', 'placement-status', 'upgrade', 'check')
        self.assertEqual(revision, self.db_version('ours'))
        self.cli('ours', 'placement-manage', 'db', 'sync')
        self.assertEqual(revision, self.db_version('ours'))
        self.assertEqual(before, snapshot(self.db.engine))
        ours = self.serve('ours')
        client = Client(ours.url)
        self.assertSameAnswers(seen, record(client, paths, self.backend),
                               'ours read upstream\'s data')

        # 3. Ours writes; upstream, back on the database, reads the same.
        new_consumers = write_through(client, ids)
        paths = crawl(client, new_consumers)
        seen = record(client, paths, self.backend)
        ours.stop()
        self.cli('upstream', 'placement-status', 'upgrade', 'check')
        upstream = self.serve('upstream')
        client = Client(upstream.url)
        self.assertSameAnswers(record(client, paths, self.backend), seen,
                               'upstream read ours\' data')
        # And upstream carries on writing on what ours wrote.
        client.allocate(new_consumers[0], {ids['pf0']: {'SRIOV_NET_VF': 1}})
        client.set_traits(ids['pf0'], ['CUSTOM_LATER'])
        client.call('DELETE', '/resource_classes/CUSTOM_LATER',
                    expect=(409,))


for _backend in db_fixtures.BACKENDS:
    _name = 'TestDropIn_%s' % _backend
    globals()[_name] = type(_name, (_DropInTest, testtools.TestCase),
                            {'backend': _backend, '__module__': __name__})
del _backend, _name
