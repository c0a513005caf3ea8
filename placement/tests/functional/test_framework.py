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


class TestMountPrefix(base.APITestCase):
    """Served under a prefix (SCRIPT_NAME), hrefs are relative paths that
    include it and Locations are absolute URLs (spec README §2)."""

    def prefixed(self, method, path, body=None, version='latest'):
        import webob
        req = webob.Request.blank(
            path, method=method, base_url='http://placement.test/placement',
            headers={'accept': 'application/json', 'x-auth-token': 'admin',
                     'openstack-api-version': 'placement %s' % version})
        if body is not None:
            req.json_body = body
            req.content_type = 'application/json'
        return req.get_response(self.app)

    def test_root_with_and_without_slash(self):
        for path in ('', '/'):
            resp = self.prefixed('GET', path)
            self.assertEqual(200, resp.status_int, path)
            self.assertEqual('v1.0', resp.json['versions'][0]['id'])

    def test_links_relative_location_absolute(self):
        resp = self.prefixed('POST', '/resource_providers',
                             {'name': 'prefixed'}, version='1.20')
        self.assertEqual(200, resp.status_int, resp.text)
        rp_uuid = resp.json['uuid']
        self.assertEqual(
            'http://placement.test/placement/resource_providers/%s' % rp_uuid,
            resp.headers['Location'])
        self.assertEqual('/placement/resource_providers/%s' % rp_uuid,
                         resp.json['links'][0]['href'])


class TestProxyHeaders(base.APITestCase):
    """Behind a TLS-terminating proxy, ``[oslo_middleware]
    enable_proxy_headers_parsing`` makes absolute URLs follow
    X-Forwarded-Proto; off (the default), the header is ignored."""

    def location(self, enabled):
        import webob

        from placement import deploy
        self.conf.set_override('enable_proxy_headers_parsing', enabled,
                               group='oslo_middleware')
        app = deploy.loadapp(self.conf)
        req = webob.Request.blank(
            '/resource_providers', method='POST',
            base_url='http://placement.test',
            headers={'accept': 'application/json', 'x-auth-token': 'admin',
                     'openstack-api-version': 'placement 1.20',
                     'x-forwarded-proto': 'https'})
        req.json_body = {'name': 'behind-proxy-%s' % enabled}
        req.content_type = 'application/json'
        resp = req.get_response(app)
        self.assertEqual(200, resp.status_int, resp.text)
        return resp.headers['Location']

    def test_forwarded_proto_only_when_enabled(self):
        self.assertTrue(self.location(True).startswith('https://'))
        self.assertTrue(self.location(False).startswith('http://'))
