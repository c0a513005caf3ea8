"""A test case with an in-process application on a fresh database, for
tests that call the WSGI app directly (threads, subprocesses, checks gabbi
cannot express)."""

import webob

from placement import deploy
from placement.tests import fixtures


class APITestCase(fixtures.DBTestCase):

    enforce_new_defaults = False

    def setUp(self):
        super().setUp()
        self.conf.set_override('enforce_new_defaults',
                               self.enforce_new_defaults,
                               group='oslo_policy')
        self.app = deploy.loadapp(self.conf)

    def request(self, method, path, body=None, version='latest',
                token='admin', headers=None):
        """Call the app in-process; returns the webob Response."""
        all_headers = {'accept': 'application/json',
                       'openstack-api-version': 'placement %s' % version}
        if token:
            all_headers['x-auth-token'] = token
        all_headers.update(headers or {})
        req = webob.Request.blank(path, method=method, headers=all_headers)
        if body is not None:
            req.json_body = body
            req.content_type = 'application/json'
        return req.get_response(self.app)
