"""Command line: build clouds, time shapes, compare with a baseline.

Examples::

    python -m tools.bench --quick                 # smoke run, own server
    python -m tools.bench --url http://127.0.0.1:8778
    python -m tools.bench --db-url postgresql+psycopg2://postgres@127.0.0.1 \\
        --baseline-start-command \\
        '/work/upstream-venv/bin/gunicorn -w 1 -b 127.0.0.1:{port} \\
         placement.wsgi.api:application'

A server the tool starts itself gets a fresh database for every cloud
group (flat, nested, wide), so shapes do not see each other's providers.
A server given only by ``--url`` is used as it is: every group's cloud is
added to it (names carry a per-run prefix).
"""

import argparse
import json
import os
import sys
import time
import uuid

from tools.bench import client as bench_client
from tools.bench import clouds
from tools.bench import server as bench_server
from tools.bench import shapes
from tools.bench import stats

TARGET_MS = {'a': 25, 'b': 25, 'c': 50, 'c_limit50': 50,
             'd6_isolate': 100, 'd6_none': 100, 'd8_isolate': 100,
             'd8_none': 100}


# Scale defaults; --quick picks the smoke scale. Explicit options win.
FULL = {'providers': 1000, 'large_providers': 10000, 'trees': 1000,
        'repeat': 50, 'warmup': 3}
QUICK = {'providers': 50, 'large_providers': 150, 'trees': 15,
         'repeat': 5, 'warmup': 1}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m tools.bench',
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Start commands may use {python}, {repo}, {port}, {host} and '
               '{config_dir}; the started process also gets '
               'OS_PLACEMENT_CONFIG_DIR pointing at a fresh placement.conf '
               '(noauth2, sync_on_startup, fresh database).')
    g = p.add_argument_group('implementation under test')
    g.add_argument('--url', help='endpoint to measure (default: start our '
                   'service under gunicorn on a free port)')
    g.add_argument('--start-command',
                   help='command that starts the server reachable at --url '
                   '(default when --url is not given: %s)'
                   % bench_server.DEFAULT_COMMAND)
    g.add_argument('--db-url', help='SQLAlchemy URL of a PostgreSQL/MySQL '
                   'server for started servers (a fresh database is '
                   'created per server); default SQLite')
    g = p.add_argument_group('baseline (optional)')
    g.add_argument('--baseline-url')
    g.add_argument('--baseline-start-command')
    g.add_argument('--baseline-db-url', help='default: --db-url')
    g.add_argument('--baseline-json', metavar='FILE',
                   help='compare with the "ours" results of an earlier '
                   '--json output instead of running a baseline now')
    g = p.add_argument_group('requests')
    g.add_argument('--token', default='admin',
                   help='x-auth-token header (default: admin, for noauth2)')
    g.add_argument('--header', action='append', default=[],
                   metavar='NAME:VALUE', help='extra header (repeatable)')
    g.add_argument('--microversion', default='latest',
                   help='microversion of the timed requests (setup always '
                   'uses 1.39)')
    g.add_argument('--timeout', type=float, default=60.0,
                   help='per-request timeout in seconds')
    g = p.add_argument_group('scale')
    g.add_argument('--shapes', default=','.join(shapes.SELECTORS),
                   help='comma list of shape groups among %s (default: all)'
                   % ','.join(shapes.SELECTORS))
    g.add_argument('--providers', type=int,
                   help='flat compute nodes for shapes a, rp, w (1000)')
    g.add_argument('--large-providers', type=int,
                   help='flat compute nodes for shape b (and rp again) '
                   '(10000)')
    g.add_argument('--trees', type=int,
                   help='nested 7-provider trees for shape c (1000)')
    g.add_argument('--repeat', type=int,
                   help='timed iterations per shape (50)')
    g.add_argument('--warmup', type=int,
                   help='untimed iterations before each shape (3)')
    g.add_argument('--max-shape-seconds', type=float, default=60.0,
                   help='stop a shape after this long (after warm-up)')
    g.add_argument('--setup-threads', type=int, default=4,
                   help='parallel setup requests')
    g.add_argument('--quick', action='store_true',
                   help='smoke scale: %s' % ', '.join(
                       '%s=%s' % kv for kv in sorted(QUICK.items())))
    g.add_argument('--reuse-server', action='store_true',
                   help='with a started server, keep one server for all '
                   'groups instead of a fresh one per group')
    g = p.add_argument_group('output')
    g.add_argument('--json', metavar='FILE',
                   help='also write raw results as JSON')
    g.add_argument('--server-log-dir', help='keep started servers\' logs '
                   'here')
    g.add_argument('--tmpdir', help='where started servers keep their '
                   'config and SQLite file (e.g. /dev/shm)')
    g.add_argument('-q', '--quiet', action='store_true')
    args = p.parse_args(argv)
    scale = QUICK if args.quick else FULL
    for name, value in scale.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    wanted = [s.strip() for s in args.shapes.split(',') if s.strip()]
    unknown = set(wanted) - set(shapes.SELECTORS)
    if unknown:
        p.error('unknown shape group(s): %s' % ', '.join(sorted(unknown)))
    args.selected = set(wanted)
    if args.baseline_json and (args.baseline_url or
                               args.baseline_start_command):
        p.error('--baseline-json excludes --baseline-url and '
                '--baseline-start-command')
    if args.baseline_db_url is None:
        args.baseline_db_url = args.db_url
    return args


def headers_of(args):
    headers = {'accept': 'application/json',
               'openstack-api-version': 'placement %s' % args.microversion}
    if args.token:
        headers['x-auth-token'] = args.token
    for item in args.header:
        name, sep, value = item.partition(':')
        if not sep:
            raise SystemExit('--header must be NAME:VALUE: %r' % item)
        headers[name.strip().lower()] = value.strip()
    return headers


class Target(object):
    """One implementation: a URL, or a command that serves it there."""

    def __init__(self, label, url, command, db_url, args):
        self.label = label
        self.url = url
        self.command = command
        self.db_url = db_url
        self.args = args
        self.setup_seconds = {}
        self.results = {}
        self.running = None
        self.client = None
        self.prefix = None
        self.failed = None

    @property
    def managed(self):
        return self.command is not None

    def server(self, group):
        log = None
        if self.args.server_log_dir:
            os.makedirs(self.args.server_log_dir, exist_ok=True)
            log = '%s/%s-%s.log' % (self.args.server_log_dir, self.label,
                                    group)
        return bench_server.ManagedServer(self.command, self.url,
                                          self.db_url, log_path=log,
                                          tmpdir=self.args.tmpdir)


def log(args, message):
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def plan(args):
    """Yield (group name, function(prefix) -> steps) in run order.

    A group builds in stages: its function returns a list of steps,
    (build callable taking a clouds.Setup, [shapes to time after it]).
    Calling it once per implementation gives each its own cloud objects.
    """
    sel = args.selected
    if sel & {'a', 'b', 'rp', 'w'}:
        def flat(prefix):
            cloud = clouds.FlatCloud(prefix)
            small = []
            if 'a' in sel:
                small.append(shapes.Get('a', shapes.flat_query(cloud),
                                        'allocation_requests',
                                        TARGET_MS['a']))
            if 'rp' in sel:
                small += shapes.rp_shapes(cloud, args.providers)
            if 'w' in sel:
                small += [shapes.ClaimRelease(cloud),
                          shapes.ProviderCreateDelete(prefix),
                          shapes.InventoryUpdate(cloud)]
            steps = [(args.providers, small)]
            if 'b' in sel:
                large = [shapes.Get('b', shapes.flat_query(cloud, limit=50),
                                    'allocation_requests', TARGET_MS['b'])]
                if 'rp' in sel:
                    large += shapes.rp_shapes(cloud, args.large_providers)
                steps.append((args.large_providers, large))
            return [((lambda setup, n=n: cloud.grow(setup, n)), s)
                    for n, s in steps if s]
        yield 'flat', flat
    if 'c' in sel:
        def nested(prefix):
            cloud = clouds.NestedCloud(prefix)
            return [(lambda setup: cloud.grow(setup, args.trees), [
                shapes.Get('c', shapes.nested_query('CUSTOM_BENCH_RACK1'),
                           'allocation_requests', TARGET_MS['c']),
                shapes.Get('c_limit50', shapes.nested_query(limit=50),
                           'allocation_requests', TARGET_MS['c_limit50'])])]
        yield 'nested', nested
    if 'd' in sel:
        def wide(prefix):
            cloud = clouds.WideCloud(prefix)
            found = [shapes.Get('d%d_%s' % (n, pol),
                                shapes.wide_query(n, pol),
                                'allocation_requests',
                                TARGET_MS['d%d_%s' % (n, pol)])
                     for n in (6, 8) for pol in ('isolate', 'none')]
            return [(cloud.grow, found)]
        yield 'wide', wide


def _log_series(args, label, name, summary):
    log(args, '[%s]   %-28s n=%-4d p50=%s ms items=%s%s' % (
        label, name, summary['n'],
        '-' if summary['p50'] is None else '%.2f' % summary['p50'],
        summary['count'],
        ' (%s)' % summary['error'] if summary['error'] else ''))


def _begin_group(target, group, args, headers):
    """Point the target's client at a server for this group: a fresh
    started server unless --reuse-server, else the given URL.
    """
    url = target.url
    if target.managed:
        if target.running is None or not args.reuse_server:
            if target.running is not None:
                target.running.stop()
                target.running = None
            log(args, '[%s] starting server for %s group' % (target.label,
                                                             group))
            target.running = target.server(group).start()
        url = target.running.url
    if target.client is not None:
        target.client.close()
    target.client = bench_client.Client(url, headers, args.timeout)


def _build(target, group, build, args):
    """Build one step of a cloud; on failure remember why in
    ``target.failed`` so the group's shapes are reported, not run.
    """
    if target.failed:
        return
    started = time.monotonic()
    try:
        build(clouds.Setup(target.client, args.setup_threads))
    except Exception as exc:
        target.failed = 'setup failed: %s' % str(exc)[:200]
        log(args, '[%s] %s cloud: %s' % (target.label, group,
                                         target.failed))
        return
    took = time.monotonic() - started
    target.setup_seconds[group] = target.setup_seconds.get(group, 0) + took
    log(args, '[%s] %s cloud built in %.1fs' % (target.label, group, took))


def _record(args, target, out):
    for name, series in out.items():
        summary = stats.summarize(series['samples'])
        summary['count'] = series['count']
        summary['error'] = series['error']
        target.results[name] = summary
        _log_series(args, target.label, name, summary)


def _run_shapes(targets, shape_lists, args):
    """Time the shapes at one position of every target's list together;
    a target whose setup failed gets the failure as each shape's error.
    """
    for position in range(len(shape_lists[0])):
        runs = []
        for target, shape_list in zip(targets, shape_lists):
            shape = shape_list[position]
            if target.failed:
                _record(args, target, {
                    name: {'samples': [], 'count': None,
                           'error': target.failed}
                    for name in shape.series})
            else:
                runs.append((target, shapes.ShapeRun(
                    target.client, shape, args.repeat, args.warmup,
                    args.max_shape_seconds)))
        outs = shapes.run_interleaved([run for _, run in runs])
        for (target, _run), out in zip(runs, outs):
            _record(args, target, out)


def run_all(targets, args):
    """Run every selected group on every target in lockstep: clouds are
    built concurrently, then each shape's iterations alternate between
    the targets so they are timed under the same machine load.
    """
    headers = headers_of(args)
    for target in targets:
        target.prefix = 'bench-%s' % uuid.uuid4().hex[:8]
    try:
        for group, make_steps in plan(args):
            for target in targets:
                target.failed = None
                try:
                    _begin_group(target, group, args, headers)
                except Exception as exc:
                    target.failed = 'server failed: %s' % str(exc)[:200]
                    log(args, '[%s] %s' % (target.label, target.failed))
            steps = [make_steps(target.prefix) for target in targets]
            for index in range(len(steps[0])):
                clouds.parallel(len(targets), lambda pair: _build(
                    pair[0], group, pair[1][index][0], args),
                    list(zip(targets, steps)))
                _run_shapes(targets, [s[index][1] for s in steps], args)
    finally:
        for target in targets:
            if target.client is not None:
                target.client.close()
            if target.running is not None:
                target.running.stop()
                target.running = None


def targets_of(args):
    ours_cmd = args.start_command
    if args.url is None and ours_cmd is None:
        ours_cmd = bench_server.DEFAULT_COMMAND
    found = [Target('ours', args.url, ours_cmd, args.db_url, args)]
    if args.baseline_url or args.baseline_start_command:
        found.append(Target('baseline', args.baseline_url,
                            args.baseline_start_command,
                            args.baseline_db_url, args))
    return found


def main(argv=None):
    args = parse_args(argv)
    targets = targets_of(args)
    run_all(targets, args)
    all_results = {t.label: t.results for t in targets}
    setup_times = {t.label: t.setup_seconds for t in targets}
    if args.baseline_json:
        with open(args.baseline_json) as f:
            saved = json.load(f)
        all_results['baseline'] = saved['results']['ours']
        setup_times['baseline'] = saved.get('setup_seconds', {}).get(
            'ours', {})
    baseline = all_results.get('baseline')
    print(stats.format_table(all_results['ours'], baseline, TARGET_MS))
    print()
    for label, times in setup_times.items():
        print('setup (%s): %s' % (label, ', '.join(
            '%s %.1fs' % item for item in times.items())))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'args': {k: v for k, v in vars(args).items()
                                if k != 'selected'},
                       'results': all_results, 'setup_seconds': setup_times},
                      f, indent=2, sort_keys=True)
    return 0
