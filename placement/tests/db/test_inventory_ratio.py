"""allocation_ratio round trip on every backend. MySQL stores it as a
single-precision FLOAT (0.9 becomes 0.89999997...): the API must still
show what the client sent, and capacity filters must use that value;
SQLite and PostgreSQL keep full double precision."""

import uuid

import sqlalchemy as sa

from placement.objects import capacity
from placement.objects import inventory as inv_obj
from placement.objects import resource_provider as rp_obj
from placement.tests import fixtures
from placement.tests.functional import base

RATIOS = {'VCPU': 0.9, 'MEMORY_MB': 16.0, 'DISK_GB': 1.5}


class _Ratio(base.AppClient):

    def setUp(self):
        super().setUp()
        self.rp = str(uuid.uuid4())
        self.base = '/resource_providers/%s' % self.rp
        self.assertEqual(200, self.call('POST', '/resource_providers',
                                        {'name': 'r', 'uuid': self.rp})[0])

    def ratios(self):
        _status, data = self.call('GET', self.base + '/inventories')
        return {rc: inv['allocation_ratio']
                for rc, inv in data['inventories'].items()}

    def test_ratios_read_back_as_sent(self):
        status, _data = self.call('PUT', self.base + '/inventories', {
            'resource_provider_generation': 0,
            'inventories': {rc: {'total': 10, 'allocation_ratio': ratio}
                            for rc, ratio in RATIOS.items()}})
        self.assertEqual(200, status)
        self.assertEqual(RATIOS, self.ratios())
        _status, data = self.call('GET', self.base + '/inventories/VCPU')
        self.assertEqual(0.9, data['allocation_ratio'])
        # The object layer (the reshaper reads through it) agrees.
        rp_id = rp_obj.get_by_uuid(self.ctx, self.rp).id
        self.assertEqual(RATIOS, {
            name: inv_obj.serialize(row)['allocation_ratio']
            for name, row in inv_obj.get_all(self.ctx, rp_id)})
        # Raw SQL reads it the same way.
        with self.db.engine.connect() as conn:
            column = capacity.ratio_sql(conn.dialect.name, 'allocation_ratio')
            self.assertEqual(sorted(RATIOS.values()), sorted(
                conn.execute(sa.text('SELECT %s FROM inventories' % column))
                .scalars()))
        # Capacity uses the ratio as sent: floor(10 * 0.9) = 9, not 8.
        _status, data = self.call(
            'GET', '/resource_providers?resources=VCPU:9')
        self.assertEqual([self.rp],
                         [p['uuid'] for p in data['resource_providers']])
        _status, data = self.call(
            'GET', '/resource_providers?resources=VCPU:10')
        self.assertEqual([], data['resource_providers'])

    def test_single_class_writes_and_precision(self):
        status, _data = self.call('POST', self.base + '/inventories', {
            'resource_class': 'VCPU', 'total': 10,
            'allocation_ratio': 0.9})
        self.assertEqual(201, status)
        status, _data = self.call('PUT', self.base + '/inventories/VCPU', {
            'resource_provider_generation': 1, 'total': 10,
            'allocation_ratio': 0.123456789})
        self.assertEqual(200, status)
        ratio = self.ratios()['VCPU']
        if self.backend == 'mysql':
            # Single precision keeps about 7 significant digits.
            self.assertEqual(0.1234568, ratio)
        else:
            self.assertEqual(0.123456789, ratio)


fixtures.for_each_backend(globals(), _Ratio)
