"""Build benchmark clouds through the Placement HTTP API.

Setup requests run on a small thread pool; each provider (or tree) is
built by one task so its generations can be chained from the responses.
Names carry a per-run prefix so several runs can share one server.
"""

import concurrent.futures
import uuid

# Setup needs consumer_type (1.38) and bodies on POST (1.20).
SETUP_HEADERS = {'openstack-api-version': 'placement 1.39'}
PROJECT_ID = '6a1a3dfa-5f94-4b8a-9d6b-3a2d2b1c0b01'
USER_ID = '7b2b4e0b-6fa5-4c9b-8e7c-4b3e3c2d1c02'


def parallel(threads, func, items):
    """Run func over items on a thread pool; re-raise the first error."""
    items = list(items)
    if threads <= 1:
        return [func(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(func, items))


class Setup(object):
    """Setup-time helpers bound to one client."""

    def __init__(self, client, threads=4):
        self.client = client
        self.threads = threads

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        return self.client.call(method, path, body, expect=expect,
                                headers=SETUP_HEADERS)

    def ensure_traits(self, names):
        for name in names:
            self.call('PUT', '/traits/%s' % name)

    def ensure_resource_classes(self, names):
        for name in names:
            self.call('PUT', '/resource_classes/%s' % name)

    def provider(self, name, parent=None, inventories=None, traits=None,
                 aggregates=None):
        """Create one provider and give it inventory, traits and
        aggregates; return its uuid and final generation.
        """
        rp_uuid = str(uuid.uuid4())
        body = {'name': name, 'uuid': rp_uuid}
        if parent:
            body['parent_provider_uuid'] = parent
        gen = self.call('POST', '/resource_providers', body)['generation']
        base = '/resource_providers/%s' % rp_uuid
        if inventories:
            gen = self.call('PUT', base + '/inventories', {
                'resource_provider_generation': gen,
                'inventories': inventories})['resource_provider_generation']
        if traits:
            gen = self.call('PUT', base + '/traits', {
                'resource_provider_generation': gen,
                'traits': sorted(traits)})['resource_provider_generation']
        if aggregates:
            gen = self.call('PUT', base + '/aggregates', {
                'resource_provider_generation': gen,
                'aggregates': sorted(aggregates)})[
                    'resource_provider_generation']
        return rp_uuid, gen

    def claim(self, allocations, consumer=None):
        """PUT /allocations/{consumer} for a new consumer; return it."""
        consumer = consumer or str(uuid.uuid4())
        self.call('PUT', '/allocations/%s' % consumer, claim_body(allocations))
        return consumer


def claim_body(allocations):
    """Body of a first PUT /allocations/{c} at 1.38+; ``allocations`` maps
    provider uuid -> {RC: amount}.
    """
    return {
        'allocations': {rp: {'resources': res}
                        for rp, res in allocations.items()},
        'project_id': PROJECT_ID, 'user_id': USER_ID,
        'consumer_generation': None, 'consumer_type': 'INSTANCE'}


def inventory(total, **fields):
    fields['total'] = total
    return fields


class FlatCloud(object):
    """Compute nodes with VCPU/MEMORY_MB/DISK_GB, spread over aggregates.

    Node i: HW_CPU_X86_AVX2 when i is even (plus AVX512F on every fourth;
    odd nodes have no traits, which saves a request each), aggregate
    ``i % aggregates`` (every fifth node also in the next one), and every
    tenth node has an instance on it.
    """

    def __init__(self, prefix, aggregates=10):
        self.prefix = prefix
        self.aggregates = [str(uuid.uuid4()) for _ in range(aggregates)]
        self.providers = []
        self.spare = None

    @property
    def query_aggregate(self):
        return self.aggregates[0]

    def _node(self, setup, i):
        n = len(self.aggregates)
        traits = set()
        if i % 2 == 0:
            traits.add('HW_CPU_X86_AVX2')
        if i % 4 == 0:
            traits.add('HW_CPU_X86_AVX512F')
        aggs = {self.aggregates[i % n]}
        if i % 5 == 0:
            aggs.add(self.aggregates[(i + 1) % n])
        rp, _gen = setup.provider(
            '%s-cn-%d' % (self.prefix, i),
            inventories={
                'VCPU': inventory(64, allocation_ratio=4.0, max_unit=64),
                'MEMORY_MB': inventory(262144, reserved=512,
                                       allocation_ratio=1.5,
                                       max_unit=262144),
                'DISK_GB': inventory(4000, max_unit=4000)},
            traits=traits, aggregates=aggs)
        if i % 10 == 3:
            setup.claim({rp: {'VCPU': 4, 'MEMORY_MB': 8192,
                              'DISK_GB': 100}})
        return rp

    def grow(self, setup, count):
        """Add compute nodes until there are ``count``."""
        start = len(self.providers)
        if count > start:
            self.providers.extend(parallel(
                setup.threads, lambda i: self._node(setup, i),
                range(start, count)))
        if self.spare is None:
            self.spare = list(setup.provider(
                '%s-spare' % self.prefix,
                inventories={'VCPU': inventory(8)}))


class NestedCloud(object):
    """Trees of 7 providers: a compute-node root (DISK_GB, one aggregate),
    two NUMA children (VCPU, MEMORY_MB, HW_NUMA_ROOT), and under each NUMA
    node an FPGA child and a PF child (SRIOV_NET_VF; CUSTOM_PHYSNET_A on
    even trees, CUSTOM_PHYSNET_B on odd ones). Every tenth root has
    CUSTOM_BENCH_RACK1.
    """

    CUSTOM_TRAITS = ('CUSTOM_PHYSNET_A', 'CUSTOM_PHYSNET_B',
                     'CUSTOM_BENCH_RACK1')

    def __init__(self, prefix, aggregates=10):
        self.prefix = prefix
        self.aggregates = [str(uuid.uuid4()) for _ in range(aggregates)]
        self.roots = []

    def _tree(self, setup, t):
        name = '%s-tree-%d' % (self.prefix, t)
        root_traits = {'COMPUTE_VOLUME_MULTI_ATTACH'}
        if t % 10 == 0:
            root_traits.add('CUSTOM_BENCH_RACK1')
        root, _ = setup.provider(
            name, inventories={'DISK_GB': inventory(2000)},
            traits=root_traits,
            aggregates={self.aggregates[t % len(self.aggregates)]})
        physnet = 'CUSTOM_PHYSNET_A' if t % 2 == 0 else 'CUSTOM_PHYSNET_B'
        for numa in (0, 1):
            numa_rp, _ = setup.provider(
                '%s-numa%d' % (name, numa), parent=root,
                inventories={'VCPU': inventory(32, max_unit=32),
                             'MEMORY_MB': inventory(65536, max_unit=65536)},
                traits={'HW_NUMA_ROOT'})
            setup.provider('%s-numa%d-fpga' % (name, numa), parent=numa_rp,
                           inventories={'FPGA': inventory(2)})
            setup.provider('%s-numa%d-pf' % (name, numa), parent=numa_rp,
                           inventories={'SRIOV_NET_VF': inventory(8)},
                           traits={physnet})
        return root

    def grow(self, setup, count):
        if not self.roots:
            setup.ensure_traits(self.CUSTOM_TRAITS)
        start = len(self.roots)
        if count > start:
            self.roots.extend(parallel(
                setup.threads, lambda t: self._tree(setup, t),
                range(start, count)))


class WideCloud(object):
    """One root with ``children`` identical children, each holding one
    unit of CUSTOM_X: the combinatorial worst case for granular groups.
    """

    def __init__(self, prefix, children=8):
        self.prefix = prefix
        self.children = children
        self.root = None

    def grow(self, setup):
        if self.root is not None:
            return
        setup.ensure_resource_classes(['CUSTOM_X'])
        self.root, _ = setup.provider('%s-wide' % self.prefix)
        parallel(setup.threads, lambda c: setup.provider(
            '%s-wide-%d' % (self.prefix, c), parent=self.root,
            inventories={'CUSTOM_X': inventory(1)}), range(self.children))
