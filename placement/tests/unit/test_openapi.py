"""The OpenAPI document: generated from the routing table and schemas,
valid OpenAPI 3.1, and its version windows match what the service does."""

import openapi_spec_validator
import testtools
import webob

from placement import handler
from placement import microversion
from placement import openapi
from placement.tests.functional import base

VERSIONS = [(1, minor) for minor in range(0, microversion.MAX_TUPLE[1] + 1)]


class TestDocument(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.doc = openapi.document()

    def test_every_route_and_method_is_described(self):
        described = {(path, method.upper()): op['operationId']
                     for path, item in self.doc['paths'].items()
                     for method, op in item.items()}
        declared = {(path, method): name
                    for path, methods in handler.ROUTE_DECLARATIONS.items()
                    for method, name in methods.items()}
        self.assertEqual(declared, described)

    def test_no_stale_operation(self):
        declared = {name for methods in handler.ROUTE_DECLARATIONS.values()
                    for name in methods.values()}
        self.assertEqual(declared, set(openapi.OPERATIONS))

    def test_every_versioned_schema_is_in_the_document(self):
        used = {id(op.body) for op in openapi.OPERATIONS.values()}
        used |= {id(op.query) for op in openapi.OPERATIONS.values()}
        for windows in microversion.VersionWindows.registry:
            if windows.name.startswith('test'):
                continue
            self.assertIn(id(windows), used, windows.name)

    def test_valid_openapi_3_1(self):
        self.assertEqual('3.1.0', self.doc['openapi'])
        openapi_spec_validator.validate(self.doc)

    def test_every_version_view_is_valid_openapi(self):
        for version in ((1, 0), (1, 7), (1, 14), (1, 25), (1, 39)):
            openapi_spec_validator.validate(openapi.at_version(version))

    def test_body_windows_tile_inside_the_operation_window(self):
        for path, item in self.doc['paths'].items():
            for method, op in item.items():
                window = op[openapi.EXTENSION_WINDOW]
                body = op.get('requestBody')
                if not body:
                    continue
                spans = [(openapi.parse_version(w['min_version']),
                          openapi.parse_version(w['max_version']))
                         for w in body[openapi.EXTENSION_BODIES]]
                self.assertGreaterEqual(
                    spans[0][0], openapi.parse_version(window['min_version']))
                for (_lo, hi), (lo, _hi) in zip(spans, spans[1:]):
                    self.assertEqual((hi[0], hi[1] + 1), lo, (path, method))
                self.assertEqual(body['required'],
                                 spans[0][0] == openapi.parse_version(
                                     window['min_version']) and
                                 spans[-1][1] == microversion.MAX_TUPLE)

    def test_view_has_exactly_the_operations_of_its_version(self):
        for version in VERSIONS:
            view = openapi.at_version(version)
            expected = set()
            for path, item in self.doc['paths'].items():
                for method, op in item.items():
                    window = op[openapi.EXTENSION_WINDOW]
                    if (openapi.parse_version(window['min_version']) <=
                            version <= openapi.parse_version(
                                window['max_version'])):
                        expected.add((path, method))
            actual = {(path, method) for path, item in view['paths'].items()
                      for method in item}
            self.assertEqual(expected, actual, version)

    def test_query_keys_per_version(self):
        view = openapi.at_version((1, 3))
        names = {p['name'] for p in
                 view['paths']['/resource_providers']['get']['parameters']
                 if p['in'] == 'query'}
        self.assertEqual({'name', 'uuid', 'member_of'}, names)
        view = openapi.at_version((1, 18))
        names = {p['name'] for p in
                 view['paths']['/resource_providers']['get']['parameters']}
        self.assertIn('required', names)
        self.assertIn('in_tree', names)

    def test_body_schema_is_the_handlers_schema(self):
        from placement.schemas import allocation as alloc_schema
        body = self.doc['paths']['/allocations/{consumer_uuid}']['put'][
            'requestBody']
        window = body[openapi.EXTENSION_BODIES][-1]
        self.assertEqual({'min_version': '1.38', 'max_version': '1.39'},
                         {k: window[k] for k in ('min_version',
                                                 'max_version')})
        name = window['schema']['$ref'].rsplit('/', 1)[1]
        self.assertEqual(alloc_schema.PUT_1_38,
                         self.doc['components']['schemas'][name])

    def test_conditional_and_explain_headers(self):
        paths = self.doc['paths']
        get = paths['/resource_providers/{uuid}/inventories']['get']
        self.assertIn('304', get['responses'])
        self.assertIn(openapi.IF_NONE_MATCH,
                      [p.get('name') for p in get['parameters']])
        put = paths['/allocations/{consumer_uuid}']['put']
        self.assertIn(openapi.IF_MATCH,
                      [p.get('name') for p in put['parameters']])
        candidates = paths['/allocation_candidates']['get']
        self.assertIn(openapi.EXPLAIN,
                      [p.get('name') for p in candidates['parameters']])

    def test_cli_prints_the_document(self):
        import io
        import json
        import sys
        out = io.StringIO()
        self.patch(sys, 'stdout', out)
        openapi.main()
        self.assertEqual(self.doc, json.loads(out.getvalue()))


class TestServed(base.APITestCase):
    """``GET /openapi.json`` serves the document, without a token."""

    def test_served_without_token(self):
        resp = self.request('GET', '/openapi.json', token=None)
        self.assertEqual(200, resp.status_int)
        self.assertEqual('application/json', resp.content_type)
        expected = openapi.document()
        expected['servers'] = [{'url': '/'}]
        self.assertEqual(expected, resp.json_body)

    def test_same_document_at_every_version(self):
        first = self.request('GET', '/openapi.json', version='1.0').json_body
        latest = self.request('GET', '/openapi.json').json_body
        self.assertEqual(first, latest)

    def test_mount_prefix_is_the_server(self):
        req = webob.Request.blank('/placement/openapi.json')
        req.environ['SCRIPT_NAME'] = '/placement'
        req.environ['PATH_INFO'] = '/openapi.json'
        resp = req.get_response(self.app)
        self.assertEqual([{'url': '/placement'}], resp.json_body['servers'])

    def test_only_get(self):
        resp = self.request('POST', '/openapi.json', body={})
        self.assertEqual(405, resp.status_int)
        self.assertEqual('GET', resp.headers['Allow'])

    def test_refuses_non_json_accept(self):
        resp = self.request('GET', '/openapi.json',
                            headers={'accept': 'text/html'})
        self.assertEqual(406, resp.status_int)

    def test_root_document_unchanged(self):
        resp = self.request('GET', '/', token=None, version='1.0')
        self.assertEqual({'versions': [{
            'id': 'v1.0', 'max_version': '1.39', 'min_version': '1.0',
            'status': 'CURRENT', 'links': [{'rel': 'self', 'href': ''}]}]},
            resp.json_body)

    def test_other_paths_still_need_a_token(self):
        resp = self.request('GET', '/resource_providers', token=None)
        self.assertEqual(401, resp.status_int)
        resp = self.request('GET', '/openapi.json/x', token=None)
        self.assertEqual(401, resp.status_int)


class TestVersionWindowsMatchTheService(base.APITestCase):
    """Probe every route/method at every microversion: the service gates
    it (404/405 with no specific detail) exactly outside its documented
    window."""

    ARGS = {'uuid': '00000000-0000-0000-0000-00000000abcd',
            'consumer_uuid': '00000000-0000-0000-0000-00000000dcba',
            'resource_class': 'VCPU', 'name': 'PROBE'}

    def _gated(self, resp, method):
        if resp.status_int not in (404, 405):
            return False
        detail = resp.json_body['errors'][0]['detail']
        return detail in (webob.exc.HTTPNotFound.explanation,
                          'The method %s is not allowed for this '
                          'resource.' % method)

    def test_windows(self):
        doc = openapi.document()
        mismatches = []
        for path, item in doc['paths'].items():
            url = path
            for name, value in self.ARGS.items():
                url = url.replace('{%s}' % name, value)
            for method, op in item.items():
                window = op[openapi.EXTENSION_WINDOW]
                lo = openapi.parse_version(window['min_version'])
                hi = openapi.parse_version(window['max_version'])
                for version in VERSIONS:
                    # A JSON body passes the content-type gate, which
                    # some handlers check before the version.
                    body = {} if method in ('put', 'post') else None
                    resp = self.request(method.upper(), url, body=body,
                                        version='%d.%d' % version)
                    expected = not (lo <= version <= hi)
                    if self._gated(resp, method.upper()) != expected:
                        mismatches.append((method, path, version,
                                           resp.status_int))
        self.assertEqual([], mismatches)
