"""Microversions: the supported list, negotiation middleware, and version
windows that handlers and JSON schemas declare.

A newcomer looking for where microversion 1.N changes behaviour can grep
for ``(1, N)``: every gate is written as a version tuple.
"""

import microversion_parse
import webob
import webob.exc

from placement import errors
from placement import plainwsgi

SERVICE_TYPE = 'placement'
HEADER = 'OpenStack-API-Version'
_HEADER_LOWER = HEADER.lower()
_HEADER_ENVIRON_KEY = 'HTTP_OPENSTACK_API_VERSION'
VERSIONS = ['1.%d' % minor for minor in range(0, 40)]
MIN_VERSION = VERSIONS[0]
MAX_VERSION = VERSIONS[-1]
MIN_TUPLE = (1, 0)
MAX_TUPLE = (1, 39)


def max_version_string():
    return MAX_VERSION


def min_version_string():
    return MIN_VERSION


def version_of(req):
    """The negotiated version (a comparable (major, minor) tuple)."""
    return req.environ[errors.VERSION_ENVIRON_KEY]


def is_at_least(req, version):
    return version_of(req) >= version


class VersionWindows(object):
    """Values (handlers, schemas, ...) each serving a window of versions.

    ``VersionWindows([((1, 0), (1, 7), a), ((1, 8), None, b)])`` serves
    ``a`` for 1.0–1.7 and ``b`` from 1.8 on. ``None`` as an upper bound
    means "up to the latest". Windows must not overlap; ``check()``
    additionally verifies they are contiguous (no gap between first and
    last window), which the unit tests enforce for every registered set.
    """

    registry = []

    def __init__(self, name, windows):
        self.name = name
        self.windows = sorted(
            ((tuple(lo), tuple(hi) if hi else MAX_TUPLE, value)
             for lo, hi, value in windows),
            key=lambda w: w[0])
        VersionWindows.registry.append(self)

    def check(self):
        """Raise ValueError when windows overlap or leave a gap."""
        previous = None
        for lo, hi, _value in self.windows:
            if lo > hi:
                raise ValueError('%s: empty window %s-%s' % (self.name, lo, hi))
            if previous is not None:
                expected = (previous[0], previous[1] + 1)
                if lo <= previous:
                    raise ValueError('%s: window starting %s overlaps' %
                                     (self.name, lo))
                if lo != expected:
                    raise ValueError('%s: gap between %s and %s' %
                                     (self.name, previous, lo))
            previous = hi

    def for_version(self, version):
        """The value serving ``version``, or None below the first window."""
        for lo, hi, value in self.windows:
            if lo <= version <= hi:
                return value
        return None

    def for_request(self, req):
        return self.for_version(version_of(req))


def _error_without_code(exc_class, detail, **extra):
    # Version negotiation errors never carry ``code``: no version exists.
    return exc_class(detail=detail, json_formatter=errors.json_formatter(
        extra=extra or None, with_code=False))


class MicroversionMiddleware(object):
    """Negotiate the request's microversion and stamp the response.

    No header → 1.0; ``latest`` → 1.39; unparseable → 400; parseable but
    unsupported → 406 with min/max. The negotiated version is echoed in
    ``OpenStack-API-Version`` on every response, errors included.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        # Only the one header counts (a server joins repeated ones).
        sent = environ.get(_HEADER_ENVIRON_KEY)
        try:
            version = microversion_parse.extract_version(
                {HEADER: sent} if sent is not None else {}, SERVICE_TYPE,
                VERSIONS)
        except TypeError as exc:
            value = str(exc).split(';')[0]
            return _error_without_code(webob.exc.HTTPBadRequest, value)(
                environ, start_response)
        except ValueError as exc:
            return _error_without_code(
                webob.exc.HTTPNotAcceptable, str(exc),
                min_version=MIN_VERSION, max_version=MAX_VERSION)(
                    environ, start_response)
        version = (version.major, version.minor)
        environ[errors.VERSION_ENVIRON_KEY] = version
        stamp = (HEADER, '%s %d.%d' % (SERVICE_TYPE, version[0], version[1]))

        def stamping_start_response(status, headers, exc_info=None):
            headers = [(name, value) for name, value in headers
                       if name.lower() != _HEADER_LOWER]
            headers.append(stamp)
            if plainwsgi.header_value(headers, 'Vary') is None:
                headers.append(('Vary', _HEADER_LOWER))
            return start_response(status, headers, exc_info)
        return self.application(environ, stamping_start_response)
