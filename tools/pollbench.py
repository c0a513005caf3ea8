"""Polling benchmark: what conditional GETs (ETag / If-None-Match) save.

Every nova-compute refreshes its provider tree about once a minute:
``GET /resource_providers?in_tree=<root>``, then each provider's
inventories, traits and aggregates, and the root's allocations. This
builds ``--computes`` trees (a root and ``--children`` children with
inventories, traits, aggregates and a few allocations), then polls every
tree ``--rounds`` times in two modes, alternating round by round so both
see the same server state and noise:

* ``plain``: every GET fetches and decodes the whole body;
* ``conditional``: the client keeps each URL's last ETag and body, sends
  ``If-None-Match`` and reuses its copy on a 304.

Before each round ``--churn`` of the computes change one inventory (so
the conditional mode also pays for real changes). Per mode it prints the
request count, 304s, bytes of body received, p50/p90 latency per request
(send, receive and JSON decode) and the median time of one full round.

    python tools/pollbench.py                       # starts its own server
    python tools/pollbench.py --url http://127.0.0.1:8778
"""

import argparse
import http.client
import json
import os
import random
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from tools.bench import client as client_lib  # noqa: E402
from tools.bench import server as server_lib  # noqa: E402
from tools.bench import stats  # noqa: E402

HEADERS = {'x-auth-token': 'admin', 'accept': 'application/json',
           'openstack-api-version': 'placement 1.39'}
MODES = ('plain', 'conditional')


def build(client, computes, children):
    """Create the trees; returns [(root uuid, [provider uuids])]."""
    client.call('PUT', '/traits/CUSTOM_POLL')
    trees = []
    for i in range(computes):
        root = str(uuid.uuid4())
        members = [root]
        client.call('POST', '/resource_providers',
                    {'name': 'poll-cn-%d-%s' % (i, root[:8]), 'uuid': root})
        for j in range(children):
            child = str(uuid.uuid4())
            client.call('POST', '/resource_providers', {
                'name': 'poll-numa-%d-%d-%s' % (i, j, child[:8]),
                'uuid': child, 'parent_provider_uuid': root})
            members.append(child)
        for rp in members:
            inventories = {'VCPU': {'total': 32}, 'MEMORY_MB': {
                'total': 65536}} if rp != root else {'DISK_GB': {
                    'total': 1000}}
            client.call('PUT', '/resource_providers/%s/inventories' % rp,
                        {'resource_provider_generation': 0,
                         'inventories': inventories})
            client.call('PUT', '/resource_providers/%s/traits' % rp,
                        {'resource_provider_generation': 1,
                         'traits': ['CUSTOM_POLL', 'HW_CPU_X86_AVX2']})
            client.call('PUT', '/resource_providers/%s/aggregates' % rp,
                        {'resource_provider_generation': 2,
                         'aggregates': [str(uuid.uuid4())]})
        for _k in range(3):
            client.call('PUT', '/allocations/%s' % uuid.uuid4(), {
                'allocations': {root: {'resources': {'DISK_GB': 10}}},
                'project_id': 'p', 'user_id': 'u',
                'consumer_generation': None, 'consumer_type': 'INSTANCE'})
        trees.append((root, members))
    return trees


class Poller(object):
    """One keep-alive connection, one client-side cache (URL → (etag,
    decoded body)) and its measurements."""

    def __init__(self, url, conditional):
        parsed = urllib.parse.urlsplit(url)
        self.address = (parsed.hostname, parsed.port or 80)
        self.prefix = parsed.path.rstrip('/')
        self.conditional = conditional
        self.conn = None
        self.cache = {}
        self.samples = []
        self.not_modified = 0
        self.bytes = 0

    def _request(self, path, headers):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.address,
                                                       timeout=60)
            try:
                self.conn.request('GET', self.prefix + path, headers=headers)
                resp = self.conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.CannotSendRequest):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if resp.will_close:
                self.conn.close()
                self.conn = None
            return resp.status, resp.getheader('etag'), body

    def get(self, path):
        headers = dict(HEADERS)
        cached = self.cache.get(path)
        if self.conditional and cached:
            headers['if-none-match'] = cached[0]
        start = time.perf_counter()
        status, etag, body = self._request(path, headers)
        # The client's work: a 304 reuses its copy, a 200 is decoded.
        if status == 304:
            data = cached[1]
            self.not_modified += 1
        elif status == 200:
            data = json.loads(body)
        else:
            raise client_lib.HTTPError('GET', path, status, body.decode())
        self.samples.append((time.perf_counter() - start) * 1000.0)
        self.bytes += len(body)
        if self.conditional and status == 200 and etag:
            self.cache[path] = (etag, data)
        return data

    def poll(self, root):
        tree = self.get('/resource_providers?in_tree=%s' % root)
        for rp in tree['resource_providers']:
            base = '/resource_providers/%s' % rp['uuid']
            self.get(base + '/inventories')
            self.get(base + '/traits')
            self.get(base + '/aggregates')
        self.get('/resource_providers/%s/allocations' % root)


def churn(client, trees, fraction, rng):
    """Change one inventory of ``fraction`` of the computes."""
    for root, members in rng.sample(trees, int(round(len(trees) *
                                                     fraction))):
        rp = members[-1]
        path = '/resource_providers/%s/inventories' % rp
        current = client.call('GET', path)
        inventories = current['inventories']
        first = sorted(inventories)[0]
        inventories[first]['reserved'] = (
            inventories[first].get('reserved', 0) + 1) % 4
        client.call('PUT', path, {
            'resource_provider_generation':
                current['resource_provider_generation'],
            'inventories': inventories})


def run(url, args):
    setup = client_lib.Client(url, HEADERS)
    trees = build(setup, args.computes, args.children)
    pollers = {}
    for mode in MODES:
        pollers[mode] = Poller(url, mode == 'conditional')
    rounds = {mode: [] for mode in MODES}
    rng = random.Random(args.seed)
    for number in range(args.rounds + 1):
        churn(setup, trees, args.churn, rng)
        order = MODES if number % 2 else tuple(reversed(MODES))
        for mode in order:
            poller = pollers[mode]
            start = time.perf_counter()
            for root, _members in trees:
                poller.poll(root)
            elapsed = (time.perf_counter() - start) * 1000.0
            if number == 0:
                # Warm-up round: fills the conditional cache.
                poller.samples, poller.bytes, poller.not_modified = [], 0, 0
            else:
                rounds[mode].append(elapsed)
    return pollers, rounds


def report(pollers, rounds):
    print('| mode | requests | 304s | body bytes | p50 ms | p90 ms | '
          'round p50 ms |')
    print('|---|---|---|---|---|---|---|')
    for mode in MODES:
        poller = pollers[mode]
        summary = stats.summarize(poller.samples)
        print('| %s | %d | %d | %d | %.2f | %.2f | %.1f |' % (
            mode, summary['n'], poller.not_modified, poller.bytes,
            summary['p50'], summary['p90'],
            stats.percentile(rounds[mode], 50)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', help='a running server (default: start '
                        'one on SQLite with gunicorn)')
    parser.add_argument('--db-url', help='database of the started server '
                        '(a MySQL/PostgreSQL server URL; default SQLite)')
    parser.add_argument('--computes', type=int, default=50)
    parser.add_argument('--children', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--churn', type=float, default=0.05,
                        help='fraction of computes changed per round')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    if args.url:
        report(*run(args.url, args))
        return 0
    with server_lib.ManagedServer(db_url=args.db_url) as server:
        report(*run(server.url, args))
    return 0


if __name__ == '__main__':
    sys.exit(main())
