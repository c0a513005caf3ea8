"""Framework behaviour that gabbi cannot express on one response."""

from placement.tests.functional import base


class TestRequestId(base.APITestCase):

    def test_error_body_request_id_matches_header(self):
        resp = self.request('GET', '/no-such-path')
        self.assertEqual(404, resp.status_int)
        header = resp.headers['x-openstack-request-id']
        self.assertEqual(header, resp.json['errors'][0]['request_id'])

    def test_unauthenticated_response_has_request_id(self):
        resp = self.request('GET', '/resource_providers', token=None)
        self.assertEqual(401, resp.status_int)
        self.assertTrue(
            resp.headers['x-openstack-request-id'].startswith('req-'))
        self.assertNotIn('openstack-api-version', resp.headers)

    def test_unexpected_exception_is_json_500_with_request_id(self):
        from placement.handlers import root

        def explode(req):
            raise RuntimeError('secret internals')
        self.patch(root, 'home', explode)
        from placement import deploy
        app = deploy.loadapp(self.conf)
        self.app = app
        resp = self.request('GET', '/', version='1.30')
        self.assertEqual(500, resp.status_int)
        error = resp.json['errors'][0]
        self.assertEqual('Internal Server Error', error['title'])
        self.assertEqual(resp.headers['x-openstack-request-id'],
                         error['request_id'])
        self.assertEqual('placement.undefined_code', error['code'])
        self.assertNotIn('secret internals', resp.text)
        self.assertNotIn('Traceback', resp.text)
        self.assertEqual('placement 1.30',
                         resp.headers['openstack-api-version'])
