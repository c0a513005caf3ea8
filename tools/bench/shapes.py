"""Query and write shapes, grouped by the cloud they need, and the loop
that times them.

A shape's ``iterate(client, i)`` performs one iteration and returns
``{series name: (elapsed ms, items or None)}``; write shapes time two
series per iteration (e.g. claim and release).
"""

import json
import re
import socket
import time
import urllib.parse
import uuid

from tools.bench import clouds

AC = '/allocation_candidates?'
RP = '/resource_providers?'
FLAVOR = 'VCPU:1,MEMORY_MB:256,DISK_GB:10'


class ShapeError(Exception):
    """An iteration failed; the shape stops and reports this."""


def describe(status, data, what=None):
    """One short line for an unexpected answer: the status and the JSON
    error detail (or the text with markup and whitespace squeezed).
    """
    text = data.decode('utf-8', 'replace')
    try:
        text = json.loads(text)['errors'][0]['detail']
    except (ValueError, KeyError, IndexError, TypeError):
        text = re.sub(r'<[^>]*>', ' ', text)
    text = ' '.join(text.split())
    if len(text) > 100:
        text = text[:97] + '...'
    return '%sHTTP %d: %s' % (what + ': ' if what else '', status, text)


def _qs(params):
    return urllib.parse.urlencode(params, safe=':,!_')


class Get(object):
    """Time one GET; count the items under ``key`` in the first answer."""

    def __init__(self, name, path, key, target=None):
        self.name = name
        self.path = path
        self.key = key
        self.target = target
        self.series = [name]

    def iterate(self, client, i):
        status, data, elapsed = client.raw('GET', self.path)
        if status != 200:
            raise ShapeError(describe(status, data))
        items = None
        if i == 0:
            items = len(json.loads(data)[self.key])
        return {self.name: (elapsed, items)}


def _expect(status, data, wanted, what):
    if status != wanted:
        raise ShapeError(describe(status, data, what))


class ClaimRelease(object):
    """PUT /allocations/{new consumer} on one node, then DELETE it."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.series = ['w_claim', 'w_release']
        self.target = None

    def iterate(self, client, i):
        rp = self.cloud.providers[i % len(self.cloud.providers)]
        path = '/allocations/%s' % uuid.uuid4()
        body = clouds.claim_body({rp: {'VCPU': 1, 'MEMORY_MB': 256,
                                       'DISK_GB': 10}})
        status, data, put_ms = client.raw('PUT', path, body)
        _expect(status, data, 204, 'claim')
        status, data, del_ms = client.raw('DELETE', path)
        _expect(status, data, 204, 'release')
        return {'w_claim': (put_ms, None), 'w_release': (del_ms, None)}


class ProviderCreateDelete(object):
    """POST /resource_providers, then DELETE it."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.series = ['w_rp_create', 'w_rp_delete']
        self.target = None

    def iterate(self, client, i):
        rp = str(uuid.uuid4())
        status, data, post_ms = client.raw('POST', '/resource_providers', {
            'name': '%s-tmp-%s' % (self.prefix, rp), 'uuid': rp})
        _expect(status, data, 200, 'create')
        status, data, del_ms = client.raw('DELETE',
                                          '/resource_providers/' + rp)
        _expect(status, data, 204, 'delete')
        return {'w_rp_create': (post_ms, None),
                'w_rp_delete': (del_ms, None)}


class InventoryUpdate(object):
    """PUT /resource_providers/{u}/inventories/VCPU on a provider nothing
    else writes, chaining the generation from each answer.
    """

    def __init__(self, cloud):
        self.cloud = cloud
        self.series = ['w_inventory_put']
        self.target = None

    def iterate(self, client, i):
        rp, gen = self.cloud.spare
        status, data, ms = client.raw(
            'PUT', '/resource_providers/%s/inventories/VCPU' % rp,
            {'resource_provider_generation': gen, 'total': 8 + i % 2})
        _expect(status, data, 200, 'inventory')
        self.cloud.spare[1] = json.loads(data)['resource_provider_generation']
        return {'w_inventory_put': (ms, None)}


def flat_query(cloud, limit=None):
    params = [('resources', FLAVOR), ('member_of', cloud.query_aggregate),
              ('required', 'HW_CPU_X86_AVX2')]
    if limit:
        params.append(('limit', str(limit)))
    return AC + _qs(params)


def nested_query(root_required=None, limit=None):
    params = [
        ('resources_COMPUTE', 'VCPU:2,MEMORY_MB:2048'),
        ('required_COMPUTE', 'HW_NUMA_ROOT'),
        ('resources_ACCEL', 'FPGA:1'),
        ('resources_NET', 'SRIOV_NET_VF:1'),
        ('required_NET', 'CUSTOM_PHYSNET_A'),
        ('same_subtree', '_COMPUTE,_ACCEL,_NET'),
        ('group_policy', 'none')]
    if root_required:
        params.append(('root_required', root_required))
    if limit:
        params.append(('limit', str(limit)))
    return AC + _qs(params)


def wide_query(groups, policy, limit=10):
    params = [('resources%d' % g, 'CUSTOM_X:1') for g in range(1, groups + 1)]
    params += [('group_policy', policy), ('limit', str(limit))]
    return AC + _qs(params)


def rp_shapes(cloud, label):
    return [
        Get('rp_list_resources@%s' % label,
            RP + _qs([('resources', FLAVOR)]), 'resource_providers'),
        Get('rp_list_filtered@%s' % label,
            RP + _qs([('resources', FLAVOR),
                      ('member_of', cloud.query_aggregate),
                      ('required', 'HW_CPU_X86_AVX2')]),
            'resource_providers'),
    ]


# The letters accepted by --shapes, in run order.
SELECTORS = ('a', 'b', 'c', 'd', 'rp', 'w')


class ShapeRun(object):
    """Times ``warmup + repeat`` iterations of one shape on one client
    (warm-ups not recorded), stopping early once ``budget`` seconds have
    passed (with at least one timed iteration) or an iteration fails.

    ``out`` is ``{series: {'samples': [...], 'count': n, 'error': str}}``.
    """

    def __init__(self, client, shape, repeat, warmup, budget):
        self.client = client
        self.shape = shape
        self.total = warmup + repeat
        self.warmup = warmup
        self.budget = budget
        self.i = 0
        self.started = None
        self.done = self.total == 0
        self.out = {name: {'samples': [], 'count': None, 'error': None}
                    for name in shape.series}

    def step(self):
        if self.started is None:
            self.started = time.monotonic()
        try:
            timings = self.shape.iterate(self.client, self.i)
        except ShapeError as exc:
            return self._stop(str(exc))
        except (socket.timeout, TimeoutError):
            return self._stop('timed out after %ss' % self.client.timeout)
        except OSError as exc:
            return self._stop('connection error: %s' % exc)
        for name, (elapsed, items) in timings.items():
            if items is not None:
                self.out[name]['count'] = items
            if self.i >= self.warmup:
                self.out[name]['samples'].append(elapsed)
        self.i += 1
        if self.i >= self.total:
            self.done = True
        elif time.monotonic() - self.started > self.budget:
            if self.i > self.warmup:
                self._stop('time budget: stopped early')
            else:
                # Slow shape: skip the other warm-ups, time one iteration.
                self.warmup = self.i
                self.total = self.i + 1

    def _stop(self, message):
        for series in self.out.values():
            series['error'] = message
        self.done = True


def run_interleaved(runs):
    """Step several ShapeRuns in turn (one iteration each, round robin) so
    implementations compared in one run see the same machine load.
    """
    while not all(run.done for run in runs):
        for run in runs:
            if not run.done:
                run.step()
    return [run.out for run in runs]


def run_shape(client, shape, repeat, warmup, budget):
    """Time one shape on one client; see ShapeRun."""
    return run_interleaved([ShapeRun(client, shape, repeat, warmup,
                                     budget)])[0]
