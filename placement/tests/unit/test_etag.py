"""Entity tag comparison rules (RFC 9110 13.1): If-None-Match compares
weakly, If-Match strongly; '*' matches any current representation."""

import testtools
import webob
import webob.exc

from placement import errors
from placement import etag


def _request(version=(1, 39), **headers):
    req = webob.Request.blank('/resource_providers/x', headers=headers)
    req.environ[errors.VERSION_ENVIRON_KEY] = version
    return req


class TestETag(testtools.TestCase):

    def test_tag_follows_body_and_microversion(self):
        tag = etag.compute(_request(), b'{"a": 1}')
        self.assertRegex(tag, r'^"[0-9a-f]{24}"$')
        self.assertEqual(tag, etag.compute(_request(), b'{"a": 1}'))
        self.assertNotEqual(tag, etag.compute(_request(), b'{"a": 2}'))
        self.assertNotEqual(tag, etag.compute(_request((1, 38)),
                                              b'{"a": 1}'))

    def test_if_none_match(self):
        tag = '"abc"'
        self.assertFalse(etag.none_match(_request(), tag))
        for header in ('"abc"', 'W/"abc"', '"x", "abc"', ' * ',
                       '"x",W/"abc" '):
            self.assertTrue(etag.none_match(
                _request(**{'If-None-Match': header}), tag), header)
        for header in ('"abcd"', 'abc', '"x"', ''):
            self.assertFalse(etag.none_match(
                _request(**{'If-None-Match': header}), tag), header)

    def test_if_match(self):
        tag = '"abc"'
        etag.check_if_match(_request(), tag)  # absent: no precondition
        for header in ('"abc"', '*', '"x", "abc"'):
            etag.check_if_match(_request(**{'If-Match': header}), tag)
        for header, current in (('W/"abc"', tag), ('"x"', tag),
                                ('*', None), ('"abc"', None)):
            self.assertRaises(
                webob.exc.HTTPPreconditionFailed, etag.check_if_match,
                _request(**{'If-Match': header}), current)
