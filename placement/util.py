"""Helpers every handler shares: content negotiation gates, JSON body and
query-string validation with the spec's error texts, cache headers,
absolute Locations, and UUID normalisation."""

import contextlib
import email.utils
import gc
import re
import time
import uuid

import jsonschema
try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.txt
    orjson = None
from oslo_serialization import jsonutils
from oslo_utils import timeutils
import webob.exc

from placement import errors
from placement import microversion

# Microversion from which bodied responses carry cache headers.
CACHE_HEADERS_MIN_VERSION = (1, 15)

_DASHED_UUID_RE = re.compile(
    r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{12}$')


def _any_uuid(value):
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _dashed_uuid(value):
    if not isinstance(value, str):
        return True
    return bool(_DASHED_UUID_RE.match(value))


# Bodies accept any UUID a parser accepts; query strings need dashes.
BODY_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
BODY_FORMAT_CHECKER.checks('uuid')(_any_uuid)
QUERY_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
QUERY_FORMAT_CHECKER.checks('uuid')(_dashed_uuid)


# Validators are built once per schema object (schemas are module-level
# constants); the schema itself is kept to detect a reused id().
_VALIDATORS = {}


def _validator(schema, format_checker):
    key = (id(schema), id(format_checker))
    cached = _VALIDATORS.get(key)
    if cached is None or cached[0] is not schema:
        validator_cls = jsonschema.validators.validator_for(schema)
        cached = (schema, validator_cls(schema,
                                        format_checker=format_checker))
        _VALIDATORS[key] = cached
    return cached[1]


def _validation_error(prefix, schema, data, format_checker):
    validator = _validator(schema, format_checker)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    return errors.bad_request('%s%s' % (prefix, error))


def validate_body(data, schema):
    """Validate parsed JSON ``data`` against ``schema`` or raise 400."""
    error = _validation_error('JSON does not validate: ', schema, data,
                              BODY_FORMAT_CHECKER)
    if error is not None:
        raise error


def extract_json(body, schema):
    """Parse a request body and validate it; 400 on either failure."""
    try:
        data = jsonutils.loads(body)
    except ValueError as exc:
        raise errors.bad_request('Malformed JSON: %s' % exc)
    validate_body(data, schema)
    return data


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
                  cache_headers=True):
    """A JSON response; cache headers (≥1.15) unless told otherwise."""
    resp = webob.Response(status=status, content_type='application/json',
                          charset=None)
    resp.body = dump_json(data)
    if cache_headers:
        set_cache_headers(req, resp, last_modified)
    return resp


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


def provider_or_404(ctx, uuid):
    """The resource provider row ``uuid``, or the spec's 404."""
    # Imported here: objects modules sit above this HTTP helper module.
    from placement import exception
    from placement.objects import resource_provider as rp_obj
    try:
        return rp_obj.get_by_uuid(ctx, uuid)
    except exception.ResourceProviderNotFound:
        raise errors.not_found(
            'No resource provider with uuid %s found' % uuid)
