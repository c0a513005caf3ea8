"""A fuzzer driven by the OpenAPI document: schemathesis generates each
request (valid and schema-violating) from ``openapi.at_version`` views,
then hypothesis mixes in the API's own query syntax and hostile input
(invalid UTF-8 escapes, NUL, NaN/Infinity, lone surrogates, deep JSON,
huge integers, wrong types, broken framing) and the request goes to the
WSGI app in-process, with the raw bytes a real server would pass.

``Fuzzer(app, vocabulary).run(count)`` sends ``count`` requests and
returns a ``Report``; a request is a failure when it gets a 5xx, an
error without placement's JSON error body, a success the document does
not list, or a body that is not strict JSON.
"""

import collections
import io
import json
import math
import time
import urllib.parse

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import settings
from hypothesis import strategies as st
import schemathesis
from schemathesis import GenerationMode

import webob
import webob.acceptparse

from placement import microversion
from placement import openapi

VERSIONS = [(1, minor) for minor in range(
    microversion.MIN_TUPLE[1], microversion.MAX_TUPLE[1] + 1)]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
NOT_SET = object()


# ---------------------------------------------------------------- checks

def _reject_constant(name):
    raise ValueError('non-standard JSON constant %s' % name)


def _check_strings(value):
    """Every string (and key) must encode as UTF-8: no lone surrogate."""
    if isinstance(value, str):
        value.encode('utf-8')
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError('non-finite number %r' % value)


def strict_json(body):
    """Parse ``body`` (bytes) as RFC 8259 JSON or raise ValueError."""
    data = json.loads(body.decode('utf-8'), parse_constant=_reject_constant)
    _check_strings(data)
    return data


def error_body_problem(resp):
    """Why ``resp`` (a 4xx/5xx) lacks placement's JSON error body, or
    None."""
    if resp.content_type != 'application/json':
        return 'content type %r' % resp.content_type
    try:
        data = strict_json(resp.body)
        error = data['errors'][0]
        missing = {'status', 'title', 'detail', 'request_id'} - set(error)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return 'unparseable error body (%s)' % exc
    if missing:
        return 'error without %s' % sorted(missing)
    if error['status'] != resp.status_int:
        return 'error status %r in a %d' % (error['status'], resp.status_int)
    return None


# ------------------------------------------------------------ hostility

# Path segments that are not (valid UTF-8) text, or are text that must be
# refused: raw percent-escapes sent as they are.
HOSTILE_SEGMENTS = (
    '%ED%A0%80', 'CUSTOM_%ED%A0%80', '%FF', '%C0%AF', '%80abc', '%E2%82',
    '%00', 'CUSTOM_X%00', 'VCPU%00', '%0A', 'CUSTOM_X%0A', '%2F', '..',
    '%20', '', 'CUSTOM_' + 'X' * 300, 'x' * 5000, '%F0%9F%92%A9',
    'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}',
    '6BA7B810-9DAD-11D1-80B4-00C04FD430C8',
    '6ba7b8109dad11d180b400c04fd430c8', '------------------------------------',
    '6ba7b810-9dad-11d1-80b4-00c04fd430c8%00',
)

# Query values spelt raw (already percent-encoded where needed).
HOSTILE_QUERY_VALUES = (
    '%ED%A0%80', '%FF', '%00', 'VCPU:1%00', 'VCPU:99999999999999999999999',
    'VCPU:1_0', 'VCPU:%D9%A1', 'VCPU:-1', 'VCPU:0', 'VCPU:', ':1', 'VCPU',
    'VCPU:1,,MEMORY_MB:1', 'VCPU:1,VCPU:2', 'in:', 'in:%FF', '!', '!!X',
    'in:,', 'CUSTOM_%ED%A0%80', '1e400', 'NaN', '-0', '00001',
    '99999999999999999999999999', '%0A', 'a' * 3000,
    'in:6ba7b810-9dad-11d1-80b4-00c04fd430c8,%FF', '!in:x', 'true',
    'MEMORY_MB:1%0A', '_a,_b', '_%ED%A0%80', 'isolate%00', 'all%0A',
)

HOSTILE_QUERY_KEYS = (
    '%ED%A0%80', '%FF', 'resources%00', 'resources%FF', 'resources1_',
    'resources_%ED%A0%80', 'required' + 'x' * 70, '', '%00', 'limit',
    'group_policy', 'member_of1', 'in_tree', 'same_subtree', 'name',
)

HOSTILE_VALUES = (
    float('nan'), float('inf'), float('-inf'), 10 ** 30, -10 ** 30,
    2 ** 63, 2 ** 31, -1, 0, 1.5, 1e308, -0.0, True, False, None, '',
    '\ud800', 'x\udfffy', '\x00', 'CUSTOM_X\x00', 'CUSTOM_X\n', 'a' * 300,
    '\U0001F4A9', [], {}, [None], {'': None}, 'NaN', '1e400',
    'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    '6BA7B810-9DAD-11D1-80B4-00C04FD430C8', '-' * 36,
)

RAW_BODIES = (
    b'', b'{', b'[', b'nul', b'{"a": 1', b'\xff\xfe{}', b'\xef\xbb\xbf{}',
    b'{"name": "\xed\xa0\x80"}', b'{"name": "\xff"}', b'NaN', b'Infinity',
    b'-Infinity', b'{"total": NaN}', b'1e400', b'"\\ud800"', b'null',
    b'{"a": 1, "a": 2}', b'\x00', b'[1, 2, 3]', b'"x"', b'{"a": -Infinity}',
    b'{"name": "\\u0000"}', b'{"name": "\\udc00"}', b' ' * 10,
)

HEADER_MUTATIONS = (
    ('OpenStack-API-Version', 'placement 1.999'),
    ('OpenStack-API-Version', 'placement 1.'),
    ('OpenStack-API-Version', 'placement abc'),
    ('OpenStack-API-Version', 'placement 1.10, compute 2.1'),
    ('OpenStack-API-Version', 'placement 01.010'),
    ('OpenStack-API-Version', 'placement 1.39\x00'),
    ('OpenStack-API-Version', 'placement \xe9'),
    ('OpenStack-API-Version', 'placement -1.5'),
    ('Accept', 'text/html'), ('Accept', 'application/json;q=0'),
    ('Accept', '\xff\xfe'), ('Accept', ';;;'),
    ('Content-Type', 'application/json; charset=latin-1'),
    ('Content-Type', 'text/plain'), ('Content-Type', 'application/json\x00'),
    ('Content-Type', ';'), ('Content-Length', 'abc'),
    ('Content-Length', '-1'), ('Content-Length', '99999999999999999999'),
    ('X-Auth-Token', ''), ('X-Auth-Token', 'nobody'),
    ('X-Auth-Token', 'admin:\xff'), ('X-Roles', 'reader'),
    ('X-Roles', '\x00'), ('OpenStack-System-Scope', 'all'),
    ('If-None-Match', '*'), ('If-None-Match', '"abc"'),
    ('If-None-Match', 'W/"x", ,,'), ('If-None-Match', '\xff'),
    ('If-Match', '*'), ('If-Match', '"nope"'), ('If-Match', 'W/"x"'),
    ('If-Match', ''), ('If-Match', ',' * 1000),
    ('OpenStack-Placement-Explain', '1'),
    ('OpenStack-Placement-Explain', 'yes'),
    ('OpenStack-Placement-Explain', '\x00'),
)


def deep_json(depth, opener=b'['):
    closer = {b'[': b']', b'{"a":': b'}'}[opener]
    return opener * depth + b'1' + closer * depth


# ---------------------------------------------------------- strategies

def _places(value, path=()):
    """Every position in ``value`` a hostile value can replace."""
    yield path
    if isinstance(value, dict):
        for key in value:
            yield from _places(value[key], path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, path + (index,))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
    else:
        copy = list(value)
    copy[head] = _replace(value[head], rest, new)
    return copy


def _rename_key(value, path, new_key):
    """Rename the key at ``path`` (a dict member) to ``new_key``."""
    if len(path) == 1:
        copy = {}
        for key, item in value.items():
            copy[new_key if key == path[0] else key] = item
        return copy
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _rename_key(value[path[0]], path[1:], new_key)
    return copy


def _looks_like_uuid(value):
    return (isinstance(value, str) and len(value) == 36 and
            value.count('-') == 4)


class Request(object):
    """What is sent: raw path and query (percent-encoded), headers,
    body bytes; ``template`` is the documented route or None when the
    path was made hostile."""

    def __init__(self, method, path, query, headers, body, template,
                 ok_statuses):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.template = template
        self.ok_statuses = ok_statuses

    def __repr__(self):
        body = self.body
        if body is not None and len(body) > 300:
            body = body[:300] + b'...'
        return '%s %s%s %r body=%r' % (
            self.method, self.path, '?' + self.query if self.query else '',
            self.headers, body)


class Vocabulary(object):
    """Names and uuids that exist in the database, so generated requests
    reach past the 404s (``uuids``: providers; ``consumers``;
    ``classes``; ``traits``; ``aggregates``; ``projects``)."""

    def __init__(self, uuids, consumers, classes, traits, aggregates,
                 projects):
        self.uuids = list(uuids)
        self.consumers = list(consumers)
        self.classes = list(classes)
        self.traits = list(traits)
        self.aggregates = list(aggregates)
        self.projects = list(projects)

    def path_values(self, template, name):
        if name == 'name':
            return (self.traits if template.startswith('/traits')
                    else self.classes)
        return {'uuid': self.uuids, 'consumer_uuid': self.consumers,
                'resource_class': self.classes}[name]


class Report(object):

    def __init__(self):
        self.requests = 0
        self.statuses = collections.Counter()
        self.server_errors = 0
        self.failures = []
        self.kinds = collections.Counter()
        self.seconds = 0.0

    def record(self, request, resp, problem):
        self.requests += 1
        self.statuses[resp.status_int if resp is not None else 0] += 1
        # An exception out of the app is the server's HTML 500.
        if resp is None or resp.status_int >= 500:
            self.server_errors += 1
        if problem:
            self.failures.append((problem, request, resp))

    def summary(self, label):
        statuses = ', '.join('%d: %d' % item
                             for item in sorted(self.statuses.items()))
        kinds = ', '.join('%s: %d' % item
                          for item in sorted(self.kinds.items()))
        return ('fuzz[%s]: %d requests, %d 5xx, %d failures in %.1f s '
                '(statuses %s; kinds %s)' % (
                    label, self.requests, self.server_errors,
                    len(self.failures), self.seconds, statuses, kinds))


CASES_PER_POOL = 4
_VIEWS = {}
_POOLS = {}


class Case(object):
    """A schemathesis case reduced to plain data."""

    def __init__(self, case):
        self.path_parameters = dict(case.path_parameters or {})
        self.query = dict(case.query or {})
        self.headers = dict(case.headers or {})
        body = case.body
        self.body = NOT_SET if type(body).__name__ == 'NotSet' else body
        self.media_type = case.media_type


def view(version):
    """The operations of ``openapi.at_version(version)`` as schemathesis
    loads them, each with its pool key: versions whose view of an
    operation is the same share its generated cases."""
    if version not in _VIEWS:
        doc = openapi.at_version(version)
        schema = schemathesis.openapi.from_dict(doc)
        operations = []
        for result in schema.get_all_operations():
            op = result.ok()
            definition = dict(doc['paths'][op.path][op.method])
            definition['parameters'] = [
                p for p in definition['parameters']
                if p.get('name') != openapi.VERSION_HEADER]
            key = (op.path, op.method, json.dumps(definition,
                                                  sort_keys=True))
            operations.append((op, key))
        _VIEWS[version] = operations
    return _VIEWS[version]


def pool(operation, key, mode):
    """``CASES_PER_POOL`` schemathesis cases of ``operation`` in ``mode``,
    generated once per process (derandomized, so always the same)."""
    if (key, mode) not in _POOLS:
        cases = []

        @settings(max_examples=CASES_PER_POOL, derandomize=True,
                  database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy(generation_mode=mode))
        def collect(case):
            cases.append(Case(case))

        collect()
        _POOLS[(key, mode)] = cases
    return _POOLS[(key, mode)]


def prepare():
    """Generate every pool up front (hypothesis runs cannot nest)."""
    for version in VERSIONS:
        for operation, key in view(version):
            for mode in MODES:
                pool(operation, key, mode)


class Fuzzer(object):

    def __init__(self, app, vocabulary, token='admin', replenish=None,
                 replenish_every=250):
        self.app = app
        self.vocab = vocabulary
        # Called every ``replenish_every`` requests to recreate what valid
        # DELETEs removed, so later requests still reach real rows.
        self.replenish = replenish
        self.replenish_every = replenish_every
        self.token = token
        self.doc = openapi.document()

    # -------------------------------------------------- request building

    def _pick(self, data, values, label):
        return data.draw(st.sampled_from(values), label=label)

    def _rebind(self, data, value):
        """Swap generated uuids and names for ones that exist, so valid
        requests really write (positive mode only)."""
        if isinstance(value, dict):
            result = {}
            for key, item in value.items():
                if _looks_like_uuid(key) and data.draw(st.booleans()):
                    key = self._pick(data, self.vocab.uuids +
                                     self.vocab.consumers, 'key')
                elif (key.isupper() and key.replace('_', '').isalnum()
                      and data.draw(st.booleans())):
                    key = self._pick(data, self.vocab.classes, 'class')
                result[key] = self._rebind(data, item)
            return result
        if isinstance(value, list):
            return [self._rebind(data, item) for item in value]
        if _looks_like_uuid(value) and data.draw(st.booleans()):
            return self._pick(data, self.vocab.uuids +
                              self.vocab.aggregates, 'uuid')
        return value

    def _semantic_query(self, data, template, version):
        """Query strings in the API's own filter syntax, mostly valid,
        with hostile tokens mixed in."""
        rc = st.sampled_from(self.vocab.classes + ['VCPU', 'MEMORY_MB',
                                                   'DISK_GB', 'NOPE'])
        amount = st.one_of(st.integers(1, 4), st.sampled_from(
            ['0', '-1', '99999999999999999999999', '1_0', '%D9%A1', 'x']))
        resources = st.lists(st.tuples(rc, amount), min_size=1,
                             max_size=3).map(
            lambda items: ','.join('%s:%s' % item for item in items))
        trait = st.sampled_from(self.vocab.traits + [
            'HW_CPU_X86_AVX2', 'COMPUTE_STATUS_DISABLED', 'CUSTOM_NOPE'])
        traits = st.lists(st.tuples(st.sampled_from(['', '!']), trait),
                          min_size=1, max_size=3).map(
            lambda items: ','.join(a + b for a, b in items))
        required = st.one_of(traits, traits.map(lambda t: 'in:' + t))
        agg = st.sampled_from(self.vocab.aggregates + self.vocab.uuids)
        member_of = st.lists(agg, min_size=1, max_size=3).flatmap(
            lambda aggs: st.sampled_from(
                [aggs[0], 'in:' + ','.join(aggs), '!' + aggs[0],
                 '!in:' + ','.join(aggs)]))
        hostile = st.sampled_from(HOSTILE_QUERY_VALUES)
        suffix = st.sampled_from(['', '', '1', '2', '_A', '_b-c'])
        pairs = []
        if template == '/resource_providers':
            keys = {'name': st.sampled_from(['rp', 'x']),
                    'uuid': st.sampled_from(self.vocab.uuids),
                    'member_of': member_of, 'resources': resources,
                    'in_tree': st.sampled_from(self.vocab.uuids),
                    'required': required}
        elif template == '/allocation_candidates':
            keys = {'resources': resources, 'required': required,
                    'member_of': member_of,
                    'in_tree': st.sampled_from(self.vocab.uuids),
                    'limit': st.sampled_from(['1', '5', '0', 'x']),
                    'group_policy': st.sampled_from(['none', 'isolate']),
                    'root_required': traits,
                    'same_subtree': st.sampled_from(['_A,_b-c', '_A', '1'])}
        elif template == '/usages':
            keys = {'project_id': st.sampled_from(self.vocab.projects),
                    'user_id': st.sampled_from(['u1', 'admin']),
                    'consumer_type': st.sampled_from(
                        ['INSTANCE', 'MIGRATION', 'all', 'unknown'])}
        else:
            keys = {'name': st.sampled_from(['startswith:CUSTOM', 'in:'
                                             + ','.join(self.vocab.traits)]),
                    'associated': st.sampled_from(['true', 'false', 'x'])}
        chosen = data.draw(st.lists(st.sampled_from(sorted(keys)),
                                    min_size=1, max_size=4), label='keys')
        for key in chosen:
            value = data.draw(hostile if data.draw(
                st.integers(0, 4)) == 4 else keys[key], label=key)
            if template == '/allocation_candidates' and key in (
                    'resources', 'required', 'member_of', 'in_tree'):
                key += data.draw(suffix, label='suffix')
            pairs.append((key, str(value)))
        return '&'.join('%s=%s' % (urllib.parse.quote(k, safe=''),
                                   _quote_keeping_escapes(v))
                        for k, v in pairs)

    def draw_request(self, data):
        version = data.draw(st.sampled_from(VERSIONS), label='version')
        operation, key = data.draw(st.sampled_from(view(version)),
                                   label='op')
        mode = data.draw(st.sampled_from(MODES), label='mode')
        case = data.draw(st.sampled_from(pool(operation, key, mode)),
                         label='case')
        template = operation.path
        method = operation.method.upper()
        documented = self.doc['paths'][template][operation.method]
        ok = {int(s) for s in documented['responses'] if s != 'default'}
        kind = data.draw(st.sampled_from(
            ['schema', 'schema', 'rebound', 'rebound', 'semantic',
             'hostile', 'hostile']), label='kind')
        if kind == 'semantic' and template not in (
                '/resource_providers', '/allocation_candidates', '/usages',
                '/traits'):
            kind = 'rebound'
        if kind == 'semantic' and method != 'GET':
            kind = 'rebound'

        headers = {'Accept': 'application/json',
                   'OpenStack-API-Version': 'placement %d.%d' % version,
                   'X-Auth-Token': self.token}
        if data.draw(st.integers(0, 19), label='header') == 19:
            # Sometimes exactly what schemathesis produced (tokens too).
            headers.update({k: str(v) for k, v in case.headers.items()})

        path_params = dict(case.path_parameters or {})
        if kind in ('rebound', 'semantic', 'hostile'):
            for name in path_params:
                if data.draw(st.integers(0, 3), label='bind') != 3:
                    path_params[name] = self._pick(
                        data, self.vocab.path_values(template, name), name)
        # schemathesis percent-encodes path parameters already.
        segments = {name: urllib.parse.quote(str(value), safe='%')
                    for name, value in path_params.items()}

        query_pairs = []
        for key, value in (case.query or {}).items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                query_pairs.append((key, _query_text(item)))
        query = urllib.parse.urlencode(query_pairs)
        if kind == 'semantic':
            query = self._semantic_query(data, template, version)
            if data.draw(st.integers(0, 2), label='explain') == 2:
                headers[openapi.EXPLAIN] = 'true'

        body = case.body
        if kind == 'rebound' and body is not NOT_SET:
            body = self._rebind(data, body)

        raw_body = None
        if isinstance(body, (bytes, bytearray)):
            raw_body = bytes(body)
            body = NOT_SET
            headers['Content-Type'] = case.media_type or 'application/json'
        elif body is not NOT_SET:
            raw_body = _dumps(body)
            headers['Content-Type'] = case.media_type or 'application/json'
        elif method in ('PUT', 'POST'):
            headers['Content-Type'] = 'application/json'
            raw_body = b''

        if kind == 'hostile':
            what = data.draw(st.sampled_from(
                ['path', 'query', 'key', 'value', 'rename', 'raw', 'deep',
                 'header', 'method', 'framing']), label='hostile')
            self.last_kind = 'hostile-' + what
            if what == 'path':
                if segments:
                    name = self._pick(data, sorted(segments), 'segment')
                    segments[name] = self._pick(data, HOSTILE_SEGMENTS, 'raw')
                else:
                    segments = None
                    path = template + '/' + self._pick(
                        data, HOSTILE_SEGMENTS, 'raw')
            elif what == 'query':
                query += ('&' if query else '') + '%s=%s' % (
                    self._pick(data, HOSTILE_QUERY_KEYS, 'qkey'),
                    self._pick(data, HOSTILE_QUERY_VALUES, 'qvalue'))
            elif what in ('value', 'rename') and body is not NOT_SET:
                places = list(_places(body))
                if what == 'rename':
                    # Only dict members have a key to rename.
                    places = [p for p in places
                              if p and isinstance(p[-1], str)] or places
                place = self._pick(data, places, 'place')
                if what == 'rename' and place and isinstance(place[-1],
                                                             str):
                    body = _rename_key(body, place, self._pick(
                        data, ['\ud800', 'x\x00', 'A' * 300, '',
                               '6BA7B810-9DAD-11D1-80B4-00C04FD430C8',
                               'urn:uuid:6ba7b810-9dad-11d1-80b4-'
                               '00c04fd430c8', 'CUSTOM_X\n'], 'newkey'))
                else:
                    body = _replace(body, place, self._pick(
                        data, HOSTILE_VALUES, 'value'))
                raw_body = _dumps(body)
            elif what == 'key' and body is not NOT_SET:
                raw_body = _dumps(body).replace(b'"', b'"\\ud800', 1)
            elif what == 'raw' and method in ('PUT', 'POST'):
                raw_body = self._pick(data, RAW_BODIES, 'body')
            elif what == 'deep' and method in ('PUT', 'POST'):
                raw_body = deep_json(
                    self._pick(data, [64, 1000, 100000], 'depth'),
                    self._pick(data, [b'[', b'{"a":'], 'opener'))
            elif what == 'header':
                name, value = self._pick(data, HEADER_MUTATIONS, 'header')
                headers[name] = value
            elif what == 'method':
                method = self._pick(data, ['PATCH', 'HEAD', 'OPTIONS',
                                           'TRACE', 'get'], 'method')
            elif what == 'framing' and raw_body:
                headers['Content-Length'] = str(len(raw_body) + 10)
                self.short_body = True
        else:
            self.last_kind = kind
        if segments is not None:
            path = template
            for name, segment in segments.items():
                path = path.replace('{%s}' % name, segment)
        if self.last_kind == 'hostile-path' or method not in (
                operation.method.upper(),):
            ok = None
        return Request(method, path, query, headers, raw_body,
                       template, ok)

    # ----------------------------------------------------------- sending

    def send(self, request):
        """Call the app as a WSGI server would: the raw path bytes as
        latin-1 in PATH_INFO, the raw query string, the body as is."""
        path_bytes = urllib.parse.unquote_to_bytes(request.path)
        environ = {
            'REQUEST_METHOD': request.method,
            'SCRIPT_NAME': '',
            'PATH_INFO': path_bytes.decode('latin-1'),
            'QUERY_STRING': request.query,
            'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
            'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
            'wsgi.url_scheme': 'http', 'wsgi.version': (1, 0),
            'wsgi.errors': io.StringIO(), 'wsgi.multithread': False,
            'wsgi.multiprocess': False, 'wsgi.run_once': False,
            'wsgi.input': io.BytesIO(request.body or b''),
        }
        if request.body is not None:
            environ['CONTENT_LENGTH'] = str(len(request.body))
        for name, value in request.headers.items():
            key = name.upper().replace('-', '_')
            if key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                environ[key] = value
            else:
                environ['HTTP_' + key] = value
        return webob.Request(environ).get_response(self.app)

    def check(self, request, resp):
        """The problem with ``resp``, or None."""
        status = resp.status_int
        if status >= 500:
            return '%d: %s' % (status, resp.body[:500])
        if status >= 400:
            # 401 comes from the auth middleware, not in placement's
            # format (spec README, "Authentication"); a client that
            # refuses JSON gets webob's negotiated error page.
            if request.method == 'HEAD' or status == 401 or (
                    not _accepts_json(request.headers)):
                return None
            return error_body_problem(resp)
        if request.ok_statuses is not None and (
                status not in request.ok_statuses):
            return 'undocumented success status %d' % status
        if resp.body and request.method != 'HEAD':
            try:
                strict_json(resp.body)
            except ValueError as exc:
                return 'success body is not strict JSON: %s' % exc
        return None

    def run(self, count):
        prepare()
        report = Report()
        start = time.time()

        @settings(max_examples=count, derandomize=True, database=None,
                  deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def one(data):
            self.short_body = False
            request = self.draw_request(data)
            report.kinds[self.last_kind] += 1
            if (self.replenish and report.requests and
                    report.requests % self.replenish_every == 0):
                self.replenish()
            try:
                resp = self.send(request)
            except Exception as exc:  # the app must never raise
                report.record(request, None, 'raised %r' % exc)
                return
            report.record(request, resp, self.check(request, resp))

        one()
        report.seconds = time.time() - start
        return report


def _accepts_json(headers):
    """Whether the client asked for (or left open) JSON; an invalid
    Accept gets webob's HTML error page, as with upstream."""
    offers = webob.acceptparse.create_accept_header(
        headers.get('Accept', '*/*'))
    if isinstance(offers, webob.acceptparse.AcceptInvalidHeader):
        return False
    return bool(offers.acceptable_offers(['application/json']))


def _dumps(value):
    # allow_nan: NaN/Infinity are what Python's own parser accepts.
    return json.dumps(value, allow_nan=True, default=str).encode(
        'utf-8', 'surrogatepass')


def _query_text(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _quote_keeping_escapes(value):
    """Percent-encode ``value`` but keep the %XX escapes it spells."""
    return urllib.parse.quote(value, safe='%:,!')
