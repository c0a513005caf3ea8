"""The ``conflict`` member of 409s only a race can cause on the provider,
inventory, trait, aggregate and resource class endpoints, forced with
mocks and checked through the WSGI app (the deterministic 409s are
covered by the gabbi files)."""

from unittest import mock
import uuid

from oslo_db import exception as db_exc

from placement import exception
from placement.objects import aggregate as agg_obj
from placement.objects import resource_class as rc_obj
from placement.objects import resource_provider as rp_obj
from placement.objects import trait as trait_obj
from placement.tests import fixtures
from placement.tests.functional import base

LOST_CAS = exception.ResourceProviderConcurrentUpdateDetected


class _ProviderConflictTests(base.AppClient):
    """A provider at generation 0 with 8 VCPU."""

    def setUp(self):
        super().setUp()
        self.rp_uuid, _rp_id = self.db.insert_provider('rp', {0: 8})

    def request(self, method, path, body=None, version='latest'):
        """The 409's ``conflict`` member (asserting the status)."""
        status, data = self.call(method, path, body, version)
        self.assertEqual(409, status, data)
        return data['errors'][0]['conflict']

    def lost_generation(self, expected=None):
        member = {'kind': 'provider_generation',
                  'resource_provider_uuid': self.rp_uuid, 'current': 0}
        if expected is not None:
            member['expected'] = expected
        return member

    def test_inventory_put_all_lost_cas(self):
        with mock.patch.object(rp_obj, 'increment_generation',
                               side_effect=LOST_CAS()):
            conflict = self.request(
                'PUT', '/resource_providers/%s/inventories' % self.rp_uuid,
                {'resource_provider_generation': 0,
                 'inventories': {'VCPU': {'total': 4}}})
        self.assertEqual(self.lost_generation(expected=0), conflict)

    def test_inventory_delete_one_lost_cas(self):
        # DELETE sends no generation: no ``expected``.
        with mock.patch.object(rp_obj, 'increment_generation',
                               side_effect=LOST_CAS()):
            conflict = self.request(
                'DELETE',
                '/resource_providers/%s/inventories/VCPU' % self.rp_uuid)
        self.assertEqual(self.lost_generation(), conflict)

    def test_provider_gone_after_lost_cas(self):
        with mock.patch.object(rp_obj, 'increment_generation',
                               side_effect=LOST_CAS()), \
                mock.patch.object(rp_obj, 'current_generation',
                                  return_value=None):
            conflict = self.request(
                'DELETE', '/resource_providers/%s/inventories' % self.rp_uuid)
        self.assertEqual({'kind': 'provider_generation',
                          'resource_provider_uuid': self.rp_uuid}, conflict)

    def test_provider_traits_delete_lost_cas(self):
        with mock.patch.object(trait_obj, 'delete_for_provider',
                               side_effect=LOST_CAS()):
            conflict = self.request(
                'DELETE', '/resource_providers/%s/traits' % self.rp_uuid)
        self.assertEqual(self.lost_generation(), conflict)

    def test_aggregates_list_form_race(self):
        with mock.patch.object(agg_obj, 'replace_for_provider',
                               side_effect=exception.ConcurrentUpdateDetected()):
            conflict = self.request(
                'PUT', '/resource_providers/%s/aggregates' % self.rp_uuid,
                [str(uuid.uuid4())], version='1.18')
        self.assertEqual(self.lost_generation(), conflict)

    def test_provider_update_race(self):
        with mock.patch.object(rp_obj, 'update',
                               side_effect=exception.ConcurrentUpdateDetected()):
            conflict = self.request(
                'PUT', '/resource_providers/%s' % self.rp_uuid,
                {'name': 'new'})
        self.assertEqual({'kind': 'concurrent_update',
                          'resource_provider_uuid': self.rp_uuid}, conflict)

    def test_resource_class_create_race(self):
        with mock.patch.object(rc_obj, 'ensure',
                               side_effect=db_exc.DBDeadlock()):
            conflict = self.request('POST', '/resource_classes',
                                    {'name': 'CUSTOM_RACE'})
        self.assertEqual({'kind': 'concurrent_update',
                          'resource_class': 'CUSTOM_RACE'}, conflict)

    def test_trait_create_race(self):
        with mock.patch.object(trait_obj, 'ensure',
                               side_effect=exception.ConcurrentUpdateDetected()):
            conflict = self.request('PUT', '/traits/CUSTOM_RACE')
        self.assertEqual({'kind': 'concurrent_update',
                          'trait': 'CUSTOM_RACE'}, conflict)


# Mocked races behave the same everywhere: SQLite keeps this fast.
fixtures.for_each_backend(globals(), _ProviderConflictTests,
                          backends=('sqlite',))
