"""Helpers every handler shares: content negotiation gates, JSON body and
query-string validation with the spec's error texts, cache headers,
absolute Locations, and UUID normalisation.

Request bodies enter through ``extract_json`` only: it is the boundary
that turns JSON the database could not store (NaN/Infinity, numbers out
of range, NUL, lone surrogates, absurd nesting) into a 400.
"""

import contextlib
import email.utils
import functools
import gc
import json
import math
import re
import time
import uuid

import fastjsonschema
import jsonschema
from jsonschema import _keywords as jsonschema_keywords
try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.txt
    orjson = None
from oslo_serialization import jsonutils
from oslo_utils import timeutils
import webob.exc
import webob.request

from placement import errors
from placement import etag as etag_lib
from placement import microversion

# Microversion from which bodied responses carry cache headers.
CACHE_HEADERS_MIN_VERSION = (1, 15)

_DASHED_UUID_RE = re.compile(
    r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{12}')
_HEX_UUID_RE = re.compile(r'[0-9a-fA-F]{32}')


def _any_uuid(value):
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def is_dashed_uuid(value):
    """Whether ``value`` is a UUID in 8-4-4-4-12 form (any case)."""
    return bool(_DASHED_UUID_RE.fullmatch(value))


def _dashed_uuid(value):
    if not isinstance(value, str):
        return True
    return is_dashed_uuid(value)


# Bodies accept any UUID a parser accepts; query strings need dashes.
BODY_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
BODY_FORMAT_CHECKER.checks('uuid')(_any_uuid)
QUERY_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
QUERY_FORMAT_CHECKER.checks('uuid')(_dashed_uuid)


# ---------------------------------------------------------------- patterns
# Schema regexes are written (and quoted in error texts) as upstream's,
# ``^...$``; but Python's ``$`` also matches before a final newline, so
# ``CUSTOM_X\n`` would pass. Patterns are compiled with every unescaped
# ``$`` read as ``\Z`` (end of string), in values and property names.

@functools.lru_cache(maxsize=None)
def _strict_regex(pattern):
    return re.compile(re.sub(r'(?<!\\)\$', r'\\Z', pattern))


def strict_search(pattern, text):
    """``re.search`` where ``$`` means the end of ``text``."""
    return _strict_regex(pattern).search(text) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, 'string') and not strict_search(
            pattern, instance):
        yield jsonschema.ValidationError(
            '%r does not match %r' % (instance, pattern))


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, 'object'):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if strict_search(pattern, key):
                yield from validator.descend(value, subschema, path=key,
                                             schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    patterns = schema.get('patternProperties')
    if not patterns:
        yield from jsonschema_keywords.additionalProperties(
            validator, additional, instance, schema)
        return
    if not validator.is_type(instance, 'object'):
        return
    properties = schema.get('properties', {})
    extras = sorted(key for key in instance if key not in properties and
                    not any(strict_search(p, key) for p in patterns))
    if validator.is_type(additional, 'object'):
        for extra in extras:
            yield from validator.descend(instance[extra], additional,
                                         path=extra)
    elif not additional and extras:
        yield jsonschema.ValidationError(
            '%s %s not match any of the regexes: %s' % (
                ', '.join(repr(extra) for extra in extras),
                'does' if len(extras) == 1 else 'do',
                ', '.join(repr(p) for p in sorted(patterns))))


_STRICT_KEYWORDS = {'pattern': _pattern,
                    'patternProperties': _pattern_properties,
                    'additionalProperties': _additional_properties}


@functools.lru_cache(maxsize=None)
def _strict_validator_class(validator_cls):
    return jsonschema.validators.extend(validator_cls, _STRICT_KEYWORDS)


# Validators are built once per schema object (schemas are module-level
# constants); the schema itself is kept to detect a reused id().
_VALIDATORS = {}


def _built_once(cache, schema, format_checker, build):
    """``build(schema, format_checker)``, kept in ``cache`` per schema
    object and checker."""
    key = (id(schema), id(format_checker))
    cached = cache.get(key)
    if cached is None or cached[0] is not schema:
        cached = cache[key] = (schema, build(schema, format_checker))
    return cached[1]


def _build_validator(schema, format_checker):
    validator_cls = _strict_validator_class(
        jsonschema.validators.validator_for(schema))
    return validator_cls(schema, format_checker=format_checker)


def _validator(schema, format_checker):
    return _built_once(_VALIDATORS, schema, format_checker,
                       _build_validator)


def _strict_schema(schema):
    """A copy of ``schema`` with its regexes as _strict_regex reads them
    (``$`` as the end of the string), for validators that take plain
    ``re`` patterns."""
    if isinstance(schema, list):
        return [_strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {}
    for key, value in schema.items():
        if key == 'pattern':
            value = _strict_regex(value).pattern
        elif key == 'patternProperties':
            value = {_strict_regex(pattern).pattern: _strict_schema(sub)
                     for pattern, sub in value.items()}
        elif key in ('properties', 'definitions'):
            value = {name: _strict_schema(sub) for name, sub in value.items()}
        else:
            value = _strict_schema(value)
        copy[key] = value
    return copy


# Compiled validators (fastjsonschema writes each schema out as Python):
# they only tell whether a document is valid, some ten times faster than
# jsonschema walks a body of allocations. Errors are still found and
# worded by jsonschema, so a 400 reads as the spec says. Built once per
# schema object, like _VALIDATORS.
_FAST_VALIDATORS = {}
# Set by the test suite: every document the fast validator passes is
# validated by jsonschema as well, and a disagreement is an error.
CROSS_CHECK_VALIDATION = False


def _build_fast_validator(schema, format_checker):
    return fastjsonschema.compile(_strict_schema(schema), formats={
        name: func for name, (func, _raises)
        in format_checker.checkers.items()})


def build_validators():
    """Build the compiled validator of every schema the handlers use now
    (some 90 ms), not in each worker's first request that needs one
    (milliseconds each)."""
    from placement import schemas
    bodies, queries = schemas.validated()
    for checker, group in ((BODY_FORMAT_CHECKER, bodies),
                           (QUERY_FORMAT_CHECKER, queries)):
        for schema in group:
            _built_once(_FAST_VALIDATORS, schema, checker,
                        _build_fast_validator)


def _passes_fast(schema, data, format_checker):
    try:
        _built_once(_FAST_VALIDATORS, schema, format_checker,
                    _build_fast_validator)(data)
    except Exception:
        # Invalid, or a document the compiled code cannot judge:
        # jsonschema decides.
        return False
    return True


def _validation_error(prefix, schema, data, format_checker):
    passed = _passes_fast(schema, data, format_checker)
    if passed and not CROSS_CHECK_VALIDATION:
        return None
    validator = _validator(schema, format_checker)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    if passed:
        raise AssertionError('fastjsonschema passed what jsonschema '
                             'refuses: %s' % error)
    return errors.bad_request('%s%s' % (prefix, error))


def validate_body(data, schema):
    """Validate parsed JSON ``data`` against ``schema`` or raise 400."""
    error = _validation_error('JSON does not validate: ', schema, data,
                              BODY_FORMAT_CHECKER)
    if error is not None:
        raise error


# ------------------------------------------------------------ JSON bodies
# No request body of the API nests deeper than 6 containers (reshaper).
MAX_JSON_DEPTH = 32
# NUL (PostgreSQL cannot store it) and lone surrogates (not encodable as
# UTF-8, so no database can store them).
_UNSTORABLE_CHAR_RE = re.compile(r'[\x00\ud800-\udfff]')


def _reject_constant(name):
    raise ValueError('%s is not a JSON number' % name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError('number %s is out of range' % text)
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant,
                            parse_float=_finite_float)


def _check_storable(data):
    """ValueError for a string (key or value) with NUL or a lone
    surrogate, or for nesting deeper than MAX_JSON_DEPTH (iterative, so a
    deep document cannot exhaust the stack here or in the validator)."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            bad = _UNSTORABLE_CHAR_RE.search(value)
            if bad:
                raise ValueError('invalid character %s in a string' %
                                 json.dumps(bad.group()))
            continue
        if isinstance(value, dict):
            items = list(value.keys()) + list(value.values())
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth == MAX_JSON_DEPTH:
            raise ValueError('nesting deeper than %d levels' %
                             MAX_JSON_DEPTH)
        pending.extend((item, depth + 1) for item in items)


def load_json(body):
    """Parse a request body (bytes) strictly; 400 ``Malformed JSON: ...``
    for invalid UTF-8 or JSON, NaN/Infinity, numbers that overflow a
    float, NUL or lone surrogates in strings, or too deep nesting."""
    try:
        data = _DECODER.decode(body.decode('utf-8') if isinstance(
            body, bytes) else body)
        _check_storable(data)
    except RecursionError:
        raise errors.bad_request('Malformed JSON: nesting deeper than %d '
                                 'levels' % MAX_JSON_DEPTH)
    except ValueError as exc:
        raise errors.bad_request('Malformed JSON: %s' % exc)
    return data


def extract_json(body, schema):
    """Parse a request body and validate it; 400 on either failure."""
    data = load_json(body)
    validate_body(data, schema)
    return data


# ------------------------------------------------------ path and query text

def _text_error(what, exc):
    return errors.bad_request('%s: %s' % (what, exc))


# No path of the API has a control character; the router's ``$`` would
# even route ``/traits/CUSTOM_X\n`` as ``/traits/CUSTOM_X``.
_PATH_CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')


def check_request_text(req):
    """400 unless the path and the query string decode as UTF-8 (as
    webob decodes them for routing and ``req.GET``), the path has no
    control character and the query no NUL (no column can hold it)."""
    try:
        path = req.script_name + req.path_info
    except UnicodeError:
        # Servers differ in how they hand over such bytes, hence no
        # codec message.
        raise _text_error('Invalid request path',
                          'not UTF-8 once percent-decoded')
    bad = _PATH_CONTROL_RE.search(path)
    if bad:
        raise _text_error('Invalid request path', 'control character %s' %
                          json.dumps(bad.group()))
    try:
        params = req.GET
    except UnicodeError as exc:
        raise _text_error('Invalid query string parameters', exc)
    for key, value in params.items():
        if '\x00' in key or '\x00' in value:
            raise _text_error('Invalid query string parameters',
                              'NUL character in %r' % key)


def read_body(req):
    """Read the body now, so a client that sends fewer bytes than its
    Content-Length (and half-closes) gets a 400, not a 500 from the
    handler that would read it."""
    if req.content_length:
        try:
            req.make_body_seekable()
        except webob.request.DisconnectionError as exc:
            raise errors.bad_request(
                'request body shorter than its content-length header: %s' %
                exc)


def validate_query(req, schema):
    """Validate the query string against ``schema`` (the last value of each
    repeated key is what gets validated) and return that dict."""
    params = {key: req.GET.getall(key)[-1] for key in req.GET.keys()}
    error = _validation_error('Invalid query string parameters: ', schema,
                              params, QUERY_FORMAT_CHECKER)
    if error is not None:
        raise error
    return params


def check_accept(req):
    """The accept gate: 406 unless ``application/json`` is acceptable."""
    if req.accept and not req.accept.acceptable_offers(['application/json']):
        raise errors.http_error(webob.exc.HTTPNotAcceptable,
                                'Only application/json is provided')


def check_content_type(req):
    """The content-type gate: 415 unless the body is ``application/json``."""
    content_type = req.content_type or None
    if content_type != 'application/json':
        raise errors.http_error(
            webob.exc.HTTPUnsupportedMediaType,
            'The media type %s is not supported, use application/json' %
            content_type)


def require_version(req, min_version, status=webob.exc.HTTPNotFound):
    """The version gate: ``status`` (404 by default) below ``min_version``."""
    if microversion.version_of(req) < min_version:
        if status is webob.exc.HTTPMethodNotAllowed:
            raise method_not_allowed(req, _allowed_methods(req))
        raise errors.http_error(status, None)


def _allowed_methods(req):
    return req.environ.get('placement.allowed_methods', [])


def method_not_allowed(req, allowed):
    return errors.http_error(
        webob.exc.HTTPMethodNotAllowed, None,
        headers=[('Allow', ', '.join(allowed))])


def path_arg(req, name):
    return req.environ['wsgiorg.routing_args'][1][name]


def context_of(req):
    return req.environ['placement.context']


def wants_cache_headers(req):
    return microversion.version_of(req) >= CACHE_HEADERS_MIN_VERSION


def http_date(when):
    """``when`` (naive UTC datetime, or None for now) as an HTTP-date."""
    if when is None:
        return email.utils.formatdate(time.time(), usegmt=True)
    return email.utils.format_datetime(
        when.replace(tzinfo=timeutils.datetime.timezone.utc), usegmt=True)


def set_cache_headers(req, resp, last_modified=None):
    """At ≥1.15: ``Cache-Control: no-cache`` and ``Last-Modified``
    (``last_modified`` or now)."""
    if wants_cache_headers(req):
        resp.headers['Cache-Control'] = 'no-cache'
        resp.headers['Last-Modified'] = http_date(last_modified)


def newest(*timestamps):
    """The latest non-None timestamp of rows, or None."""
    present = [t for t in timestamps if t is not None]
    return max(present) if present else None


def row_modified(row):
    """A row's last-modified time: updated_at falling back to created_at."""
    return row.updated_at or row.created_at


@contextlib.contextmanager
def no_gc_pauses():
    """Suspend the cyclic garbage collector while a request builds tens
    of thousands of short-lived, acyclic objects (rows, dicts of a large
    answer): reference counting frees them, and the collector's passes
    over every live object would only add pauses. Restored on exit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dump_json(data):
    """``data`` as JSON bytes: orjson (several times faster on the large
    candidate answers) for plain structures, the standard encoder for
    anything orjson does not take or would write differently (non-string
    keys, sets, datetimes: passed through, so they raise)."""
    if orjson is not None:
        try:
            return orjson.dumps(data, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except TypeError:
            pass
    return jsonutils.dump_as_bytes(data)


def json_response(req, data, status=200, last_modified=None,
                  cache_headers=True, etag=False, compact=False):
    """A JSON response; cache headers (≥1.15) unless told otherwise. With
    ``etag``, an ``ETag`` header, and a bodiless 304 instead when the
    request's If-None-Match names it. ``compact``: written by the fast
    encoder without blanks (large answers; same JSON value), else with
    the standard library's separators, byte for byte as upstream."""
    body = dump_json(data) if compact else jsonutils.dump_as_bytes(data)
    if etag:
        tag = etag_lib.compute(req, body)
        if etag_lib.none_match(req, tag):
            resp = empty_response(304, headers=[('ETag', tag)])
            if cache_headers:
                set_cache_headers(req, resp, last_modified)
            return resp
    resp = webob.Response(status=status, content_type='application/json',
                          charset=None)
    resp.body = body
    if etag:
        resp.headers['ETag'] = tag
    if cache_headers:
        set_cache_headers(req, resp, last_modified)
    return resp


def check_if_match(req, view, *args):
    """When If-Match is sent, 412 unless it names the tag GET of this URL
    would send now: ``view(*args)`` returns that GET's (body, last
    modified), or None when there is nothing to GET."""
    if etag_lib.wants_if_match(req):
        current = view(*args)
        etag_lib.check_if_match(req, current and etag_lib.compute(
            req, jsonutils.dump_as_bytes(current[0])))


def empty_response(status=204, headers=None):
    """A bodiless response: no Content-Type header."""
    resp = webob.Response(status=status)
    del resp.content_type
    if headers:
        for name, value in headers:
            resp.headers[name] = value
    return resp


def absolute_url(req, path):
    """An absolute URL (for ``Location``) under the service's mount point."""
    return req.host_url + req.script_name + path


def relative_url(req, path):
    """A relative href (for ``links``) including the mount prefix."""
    return req.script_name + path


def normalize_uuid(value):
    """Lowercase dashed form of any UUID a parser accepts, else None."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def normalize_uuid_keys(mapping, bad_key=None):
    """``mapping`` with its UUID keys in canonical form, so one entity has
    one key however it was spelled. A key that is no UUID is kept as is,
    or raises ``bad_key(key)``; two spellings of one UUID are a 400."""
    result = {}
    for key, value in mapping.items():
        canonical = normalize_uuid(key)
        if canonical is None:
            if bad_key is not None:
                raise bad_key(key)
            canonical = key
        if canonical in result:
            raise errors.bad_request(
                'JSON does not validate: %s is given more than once' %
                canonical)
        result[canonical] = value
    return result


def storable_uuid(value):
    """A UUID that is stored as sent (aggregates) when it is in dashed or
    plain hex form; any other accepted spelling (``urn:uuid:…``,
    ``{…}``) is stored canonical: it would not fit the 36-character
    column, nor ever match a query."""
    if is_dashed_uuid(value) or _HEX_UUID_RE.fullmatch(value):
        return value
    return normalize_uuid(value)


class ProviderWrite(object):
    """A handler's write to one provider (see provider_write): the
    locked ``provider`` row, and ``expected``, the generation the request
    sent, for a 409."""

    def __init__(self, provider):
        self.provider = provider
        self.expected = None

    def conflict(self, detail):
        """The exception that makes provider_write answer the provider
        generation 409 with ``detail``."""
        return _ProviderWriteConflict(detail)


class _ProviderWriteConflict(Exception):
    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


@contextlib.contextmanager
def provider_write(ctx, uuid, detail, with_cause=False):
    """One writer transaction for a change to provider ``uuid``, not a
    lookup transaction and then a write transaction: yields a
    ProviderWrite whose row was locked before it was read (so it is
    current), or raises the spec's 404. A ConcurrentUpdateDetected from
    the write or its commit (a lost compare-and-set, a deadlock, a Galera
    certification failure) or a ``conflict()`` becomes the provider
    generation 409 once the transaction has rolled back (so ``current``
    can be read afresh), with ``detail`` (followed by ``: <the race>``
    when ``with_cause``), resp. the conflict's."""
    from placement.db import api as db_api
    from placement import exception
    from placement.objects import resource_provider as rp_obj
    write = None
    try:
        with exception.db_races_as_conflict():
            with db_api.context_manager.writer.using(ctx):
                try:
                    write = ProviderWrite(rp_obj.lock_and_get(ctx, uuid))
                except exception.ResourceProviderNotFound:
                    raise _provider_not_found(uuid)
                yield write
    except (exception.ConcurrentUpdateDetected,
            _ProviderWriteConflict) as exc:
        if isinstance(exc, _ProviderWriteConflict):
            detail = exc.detail
        elif with_cause:
            detail = '%s: %s' % (detail, exc)
        if write is None:
            raise errors.provider_generation_conflict(
                detail, uuid, current=rp_obj.current_generation(ctx, uuid))
        rp_uuid = write.provider.uuid
        raise errors.provider_generation_conflict(
            detail, rp_uuid, expected=write.expected,
            current=rp_obj.current_generation(ctx, rp_uuid))


def _provider_not_found(uuid):
    return errors.not_found('No resource provider with uuid %s found' % uuid)


def provider_or_404(ctx, uuid):
    """The resource provider row ``uuid``, or the spec's 404."""
    # Imported here: objects modules sit above this HTTP helper module.
    from placement import exception
    from placement.objects import resource_provider as rp_obj
    try:
        return rp_obj.get_by_uuid(ctx, uuid)
    except exception.ResourceProviderNotFound:
        raise _provider_not_found(uuid)
