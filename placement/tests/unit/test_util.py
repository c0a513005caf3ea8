"""The request-body boundary (strict JSON), '$'-as-end-of-string schema
patterns, and the one-line error ``detail``."""

import re
import uuid

import fixtures
import testtools
import webob.exc

from placement import errors
from placement import util


class TestLoadJSON(testtools.TestCase):

    def assertMalformed(self, fragment, body):
        exc = self.assertRaises(webob.exc.HTTPBadRequest, util.load_json,
                                body)
        self.assertIn('Malformed JSON: ' + fragment, exc.detail)

    def test_non_finite_numbers(self):
        for literal in ('NaN', 'Infinity', '-Infinity'):
            self.assertMalformed('%s is not a JSON number' % literal,
                                 b'{"a": %s}' % literal.encode())
        self.assertMalformed('number 1e999 is out of range', b'[1e999]')
        self.assertEqual([1e308, 2], util.load_json(b'[1e308, 2]'))

    def test_unstorable_characters(self):
        self.assertMalformed('invalid character "\\u0000"',
                             b'{"a": "x\\u0000"}')
        self.assertMalformed('invalid character "\\ud800"',
                             b'{"a": ["\\ud800"]}')
        self.assertMalformed('invalid character "\\udfff"',
                             b'{"\\udfff": 1}')
        self.assertEqual({'a': '\U0001F600'},
                         util.load_json(b'{"a": "\\ud83d\\ude00"}'))

    def test_depth(self):
        ok = b'[' * util.MAX_JSON_DEPTH + b']' * util.MAX_JSON_DEPTH
        self.assertIsInstance(util.load_json(ok), list)
        self.assertMalformed('nesting deeper than 32 levels', b'[' + ok + b']')
        self.assertMalformed('nesting deeper than 32 levels',
                             b'[' * 100000 + b']' * 100000)

    def test_undecodable(self):
        self.assertMalformed("'utf-8' codec can't decode", b'"\xff"')


class TestStrictPatterns(testtools.TestCase):

    def test_dollar_is_end_of_string(self):
        self.assertTrue(util.strict_search('^[A-Z]+$', 'ABC'))
        self.assertFalse(util.strict_search('^[A-Z]+$', 'ABC\n'))
        self.assertTrue(util.strict_search('^a$|^all', 'allfoo'))
        self.assertTrue(util.strict_search(r'^a\$$', 'a$'))

    def test_schema_error_texts_keep_the_written_pattern(self):
        schema = {'type': 'object',
                  'properties': {'name': {'type': 'string',
                                          'pattern': '^X_[A-Z]+$'}},
                  'patternProperties': {'^[A-Z]+$': {'type': 'integer'}},
                  'additionalProperties': False}
        exc = self.assertRaises(webob.exc.HTTPBadRequest, util.validate_body,
                                {'name': 'X_A\n'}, schema)
        self.assertIn("'X_A\\n' does not match '^X_[A-Z]+$'", exc.detail)
        exc = self.assertRaises(webob.exc.HTTPBadRequest, util.validate_body,
                                {'A\n': 1, 'B\n': 2}, schema)
        self.assertIn("'A\\n', 'B\\n' do not match any of the regexes: "
                      "'^[A-Z]+$'", exc.detail)
        exc = self.assertRaises(webob.exc.HTTPBadRequest, util.validate_body,
                                {'A': 'x'}, schema)
        self.assertIn("'x' is not of type 'integer'", exc.detail)
        util.validate_body({'name': 'X_A', 'A': 1}, schema)


class TestErrorDetail(testtools.TestCase):

    def test_message_on_one_line_after_the_lead_in(self):
        self.assertEqual(
            'Lead.\n\n a  b:     c',
            errors.format_detail('Lead.<br /><br />\na\n\nb:\n    c\n\n'))

    def test_no_message(self):
        self.assertEqual('Lead.',
                         errors.format_detail('Lead.<br /><br />\n\n\n'))

    def test_lead_in_with_newlines(self):
        # webob's 406 and 415 lead-ins have their own newlines.
        self.assertEqual(
            'Lead on two lines. \n\n msg',
            errors.format_detail('Lead on\ntwo lines.\n<br /><br />\nmsg'))


class TestUUIDs(testtools.TestCase):

    def test_storable_uuid(self):
        dashed = 'C0FFEE00-0000-4000-8000-00000000000A'
        self.assertEqual(dashed, util.storable_uuid(dashed))
        self.assertEqual(dashed.replace('-', ''),
                         util.storable_uuid(dashed.replace('-', '')))
        for spelling in ('urn:uuid:' + dashed, '{%s}' % dashed):
            self.assertEqual(dashed.lower(), util.storable_uuid(spelling))

    def test_normalize_uuid_keys(self):
        dashed = 'c0ffee00-0000-4000-8000-00000000000a'
        self.assertEqual({dashed: 1, 'x': 2},
                         util.normalize_uuid_keys({dashed.upper(): 1,
                                                   'x': 2}))
        self.assertRaises(webob.exc.HTTPBadRequest, util.normalize_uuid_keys,
                          {dashed: 1, dashed.upper(): 2})
        self.assertRaises(KeyError, util.normalize_uuid_keys, {'-' * 36: 1},
                          bad_key=KeyError)


class TestFastValidation(testtools.TestCase):
    """The compiled validator decides only what jsonschema would."""

    SCHEMA = {
        'type': 'object',
        'properties': {
            'name': {'type': 'string', 'pattern': '^[A-Z_]+$'},
            'id': {'type': 'string', 'format': 'uuid'},
            'amounts': {
                'type': 'object',
                'patternProperties': {
                    '^[A-Z0-9_]+$': {'type': 'integer', 'minimum': 1}},
                'additionalProperties': False},
        },
        'additionalProperties': False,
    }

    def setUp(self):
        super().setUp()
        self.addCleanup(setattr, util, 'CROSS_CHECK_VALIDATION',
                        util.CROSS_CHECK_VALIDATION)

    def assert_verdict(self, valid, data):
        util.CROSS_CHECK_VALIDATION = True
        error = util._validation_error('', self.SCHEMA, data,
                                       util.BODY_FORMAT_CHECKER)
        self.assertEqual(valid, error is None, error)
        util.CROSS_CHECK_VALIDATION = False
        error = util._validation_error('', self.SCHEMA, data,
                                       util.BODY_FORMAT_CHECKER)
        self.assertEqual(valid, error is None, error)

    def test_valid_documents_pass(self):
        self.assert_verdict(True, {'name': 'VCPU', 'amounts': {'VCPU': 1},
                                   'id': '%s' % uuid.uuid4()})
        # jsonschema's latest draft: 2.0 is an integer.
        self.assert_verdict(True, {'amounts': {'DISK_GB': 2.0}})

    def test_dollar_is_the_end_of_the_string(self):
        self.assert_verdict(False, {'name': 'VCPU\n'})
        self.assert_verdict(False, {'amounts': {'VCPU\n': 1}})

    def test_formats_are_the_checkers(self):
        self.assert_verdict(False, {'id': 'not-a-uuid'})
        self.assert_verdict(True, {'id': uuid.uuid4().hex})

    def test_invalid_documents_get_jsonschemas_words(self):
        error = util._validation_error('JSON does not validate: ',
                                       self.SCHEMA, {'amounts': {'VCPU': 0}},
                                       util.BODY_FORMAT_CHECKER)
        self.assertIn('0 is less than the minimum of 1', str(error))
        self.assert_verdict(False, {'amounts': {'VCPU': True}})

    def test_a_disagreement_is_an_error_when_cross_checking(self):
        passing = self.useFixture(fixtures.MockPatch(
            'placement.util._passes_fast', return_value=True)).mock
        util.CROSS_CHECK_VALIDATION = True
        self.assertRaises(AssertionError, util._validation_error, '',
                          self.SCHEMA, {'name': 'lower'},
                          util.BODY_FORMAT_CHECKER)
        passing.assert_called()


class TestValidatorsBuiltAtStart(testtools.TestCase):
    """schemas.validated() names every schema the handlers validate
    with, body and query strings apart, so build_validators() leaves no
    compile to a worker's first request."""

    CALL_RE = re.compile(
        r'(extract_json|validate_body|validate_query)\([^;]*?'
        r'schema\.([A-Z_]+)', re.S)

    def test_every_handler_schema_is_named(self):
        import importlib
        import pkgutil

        from placement import handlers
        from placement import schemas
        bodies, queries = schemas.validated()
        found = 0
        for info in pkgutil.iter_modules(handlers.__path__):
            module = importlib.import_module(
                'placement.handlers.' + info.name)
            with open(module.__file__) as source:
                text = source.read()
            for call, name in self.CALL_RE.findall(text):
                found += 1
                value = getattr(module.schema, name)
                windows = [v for _lo, _hi, v in getattr(
                    value, 'windows', [(None, None, value)])]
                group = queries if call == 'validate_query' else bodies
                for schema in windows:
                    self.assertTrue(
                        any(schema is known for known in group),
                        '%s: %s' % (info.name, name))
        self.assertGreater(found, 10)

    def test_build_validators_fills_the_cache(self):
        from placement import schemas
        self.addCleanup(util._FAST_VALIDATORS.update,
                        dict(util._FAST_VALIDATORS))
        util._FAST_VALIDATORS.clear()
        util.build_validators()
        bodies, queries = schemas.validated()
        self.assertEqual(len(set(map(id, bodies))) +
                         len(set(map(id, queries))),
                         len(util._FAST_VALIDATORS))
