"""Building the application: config location, auth strategies, refusal to
start without a database."""

import os

import fixtures as fx
from keystonemiddleware import auth_token
import testtools
import webob

from placement import deploy
from placement.tests import fixtures


class TestConfigLocation(testtools.TestCase):

    def test_config_dir_env_reads_only_that_file(self):
        config_dir = self.useFixture(fx.TempDir()).path
        with open(os.path.join(config_dir, 'placement.conf'), 'w') as f:
            f.write('[placement]\nallocation_conflict_retry_count = 3\n')
        self.useFixture(fx.EnvironmentVariable('OS_PLACEMENT_CONFIG_DIR',
                                               config_dir))
        self.assertEqual([os.path.join(config_dir, 'placement.conf')],
                         deploy.config_files())
        conf = deploy.parse_config()
        self.assertEqual(3, conf.placement.allocation_conflict_retry_count)

    def test_blank_config_dir_uses_standard_search(self):
        self.useFixture(fx.EnvironmentVariable('OS_PLACEMENT_CONFIG_DIR',
                                               '  '))
        for path in deploy.config_files():
            self.assertTrue(path.endswith('placement.conf'))

    def test_defaults(self):
        conf = self.useFixture(fixtures.ConfFixture()).conf
        self.assertEqual(10, conf.placement.allocation_conflict_retry_count)
        self.assertEqual(-1, conf.placement.max_allocation_candidates)
        self.assertEqual('depth-first',
                         conf.placement.allocation_candidates_generation_strategy)
        self.assertFalse(conf.placement.randomize_allocation_candidates)
        self.assertEqual('00000000-0000-0000-0000-000000000000',
                         conf.placement.incomplete_consumer_project_id)
        self.assertFalse(conf.placement_database.sync_on_startup)
        self.assertTrue(conf.oslo_policy.enforce_new_defaults)
        self.assertFalse(conf.workarounds.optimize_for_wide_provider_trees)

    def test_refuses_to_start_without_connection(self):
        conf = self.useFixture(fixtures.ConfFixture()).conf
        self.assertRaises(RuntimeError, deploy.init_database, conf)


class TestKeystoneStrategy(testtools.TestCase):

    def setUp(self):
        super().setUp()
        conf = self.useFixture(fixtures.ConfFixture()).conf
        conf.set_override('auth_strategy', 'keystone', group='api')
        self.useFixture(fixtures.PolicyFixture(conf))
        for group, opts in auth_token.list_opts():
            conf.register_opts(opts, group=group)
        conf.set_override('www_authenticate_uri',
                          'http://keystone.test/identity',
                          group='keystone_authtoken')
        self.conf = conf
        self.app = deploy.deploy(conf)

    def test_root_needs_no_token(self):
        resp = webob.Request.blank('/').get_response(self.app)
        self.assertEqual(200, resp.status_int)

    def test_openapi_needs_no_token(self):
        resp = webob.Request.blank('/openapi.json').get_response(self.app)
        self.assertEqual(200, resp.status_int)
        self.assertEqual('3.1.0', resp.json_body['openapi'])

    def test_api_without_token_is_401(self):
        resp = webob.Request.blank('/resource_providers').get_response(
            self.app)
        self.assertEqual(401, resp.status_int)
        self.assertNotIn('openstack-api-version', resp.headers)
        self.assertIn('keystone.test', resp.headers['WWW-Authenticate'])

    def test_healthcheck_needs_no_token(self):
        # (No database in this test: only the disable file is checked.)
        self.conf.set_override('backends', ['disable_by_file'],
                               group='healthcheck')
        self.conf.set_override('disable_by_file_path', '/nonexistent',
                               group='healthcheck')
        app = deploy.deploy(self.conf)
        resp = webob.Request.blank('/healthcheck').get_response(app)
        self.assertEqual(200, resp.status_int)
        self.assertEqual(b'OK', resp.body)


class TestKeystoneOpenMetrics(testtools.TestCase):
    """``[metrics] allow_unauthenticated`` bypasses keystone for /metrics
    only."""

    def setUp(self):
        super().setUp()
        conf = self.useFixture(fixtures.ConfFixture()).conf
        conf.set_override('auth_strategy', 'keystone', group='api')
        conf.set_override('enabled', True, group='metrics')
        conf.set_override('allow_unauthenticated', True, group='metrics')
        self.useFixture(fixtures.PolicyFixture(conf))
        for group, opts in auth_token.list_opts():
            conf.register_opts(opts, group=group)
        conf.set_override('www_authenticate_uri',
                          'http://keystone.test/identity',
                          group='keystone_authtoken')
        self.app = deploy.deploy(conf)

    def test_metrics_without_token(self):
        self.assertEqual(401, webob.Request.blank(
            '/resource_providers').get_response(self.app).status_int)
        resp = webob.Request.blank('/metrics').get_response(self.app)
        self.assertEqual(200, resp.status_int)
        self.assertIn(b'placement_http_request_duration_seconds_count{'
                      b'method="GET",microversion="none",route="unrouted",'
                      b'status="401"} 1.0', resp.body)


class TestPlainMiddleware(testtools.TestCase):
    """Our middleware is plain WSGI: what a server sees of a response
    that failed late, and the request log line."""

    def setUp(self):
        super().setUp()
        self.calls = []
        self.logged = self.useFixture(fx.FakeLogger(name='placement.deploy'))

    def start_response(self, status, headers, exc_info=None):
        # As a server before the first byte is sent: exc_info replaces.
        self.calls.append((status, dict(headers), exc_info is not None))

    def serve(self, application, path='/x'):
        environ = webob.Request.blank(
            path, method='PUT', headers={'Accept': 'application/json'}).environ
        return b''.join(deploy.RequestLog(deploy.FaultWrapper(application))(
            environ, self.start_response))

    def test_error_after_the_response_began_replaces_it(self):
        def app(environ, start_response):
            start_response('200 OK', [('Content-Length', '2')])
            raise RuntimeError('late')
        body = self.serve(app)
        self.assertEqual(['200 OK', '500 Internal Server Error'],
                         [status for status, _h, _e in self.calls])
        self.assertEqual([False, True], [e for _s, _h, e in self.calls])
        self.assertIn(b'An unexpected error occurred: RuntimeError', body)
        self.assertIn('"PUT /x" status: 500', self.logged.output)

    def test_error_while_the_body_is_read_is_a_json_500(self):
        def app(environ, start_response):
            start_response('200 OK', [])

            def chunks():
                yield b'{'
                raise RuntimeError('mid-body')
            return chunks()
        body = self.serve(app)
        self.assertEqual('500 Internal Server Error', self.calls[-1][0])
        self.assertIn(b'"status": 500', body)

    def test_request_log_line(self):
        def app(environ, start_response):
            start_response('201 Created', [('content-length', '3')])
            return [b'abc']
        self.assertEqual(b'abc', self.serve(app, '/p%C3%A9?a=1'))
        self.assertIn('"PUT /p%C3%A9?a=1" status: 201 len: 3 '
                      'microversion: -', self.logged.output)
