"""Error codes and the JSON error body of every 4xx/5xx response.

Handlers raise ``http_error(webob.exc.HTTPConflict, detail, code=...)``;
the body is ``{"errors": [{status, title, detail, request_id, code}]}``
with ``code`` only from microversion 1.23.
"""

import functools

import webob.exc

# Error codes (README §4 of the spec).
DEFAULT = 'placement.undefined_code'
INVENTORY_INUSE = 'placement.inventory.inuse'
CONCURRENT_UPDATE = 'placement.concurrent_update'
DUPLICATE_NAME = 'placement.duplicate_name'
PROVIDER_IN_USE = 'placement.resource_provider.inuse'
PROVIDER_CANNOT_DELETE_PARENT = (
    'placement.resource_provider.cannot_delete_parent')
RESOURCE_PROVIDER_NOT_FOUND = 'placement.resource_provider.not_found'
ILLEGAL_DUPLICATE_QUERYPARAM = 'placement.query.duplicate_key'
QUERYPARAM_BAD_VALUE = 'placement.query.bad_value'
QUERYPARAM_MISSING_VALUE = 'placement.query.missing_value'
# Beyond upstream: a 503 because the database (node) is unreachable.
DATABASE_UNAVAILABLE = 'placement.database_unavailable'

# Where the microversion middleware leaves the negotiated version.
VERSION_ENVIRON_KEY = 'placement.microversion'

# Microversion from which error objects carry ``code``.
CODE_MIN_VERSION = (1, 23)


def format_detail(body):
    """The ``detail`` member from webob's body (``<lead-in><br /><br />``,
    newline, message) as upstream formats it: every newline becomes a
    space, then each ``<br />`` a newline. So ``detail`` is the lead-in,
    a blank line and the message on one line: its last line, which is
    what osc-placement shows."""
    return body.replace('\n', ' ').replace('<br />', '\n').strip()


def _error_object(body, status, title, environ, code=None, extra=None,
                  with_code=True):
    # webob joins its explanation and our detail into ``body``.
    status_code = int(status.split(None, 1)[0])
    error = {
        'status': status_code,
        'title': title,
        'detail': format_detail(body),
        'request_id': environ.get('openstack.request_id'),
    }
    version = environ.get(VERSION_ENVIRON_KEY)
    if with_code and version is not None and version >= CODE_MIN_VERSION:
        error['code'] = code or DEFAULT
    if extra:
        error.update(extra)
    return {'errors': [error]}


def json_formatter(code=None, extra=None, with_code=True):
    """A webob ``json_formatter`` producing placement's error body."""
    return functools.partial(_error_object, code=code, extra=extra,
                             with_code=with_code)


def http_error(exc_class, detail, code=None, headers=None, **extra):
    """Build (not raise) a webob HTTP error in placement's JSON format.

    ``extra`` members are added to the error object, e.g. ``conflict``
    (a machine-readable description of a 409) or ``min_version``.
    """
    return exc_class(detail=detail, headers=headers,
                     json_formatter=json_formatter(code, extra or None))


def database_unavailable():
    """503: the database, or the cluster node this worker's connection
    reached, is down or not accepting work. Safe to retry (a load
    balancer may route the retry to another node)."""
    return http_error(webob.exc.HTTPServiceUnavailable,
                      'The database is unavailable. Please retry.',
                      code=DATABASE_UNAVAILABLE,
                      headers={'Retry-After': '1'})


def not_found(detail, **kw):
    return http_error(webob.exc.HTTPNotFound, detail, **kw)


def bad_request(detail, **kw):
    return http_error(webob.exc.HTTPBadRequest, detail, **kw)


def conflict(detail, **kw):
    return http_error(webob.exc.HTTPConflict, detail, **kw)


# ------------------------------------------------------------------------
# The machine-readable ``conflict`` member of 409s (notes/conflict-member.md)
# for the provider, inventory, trait, aggregate and resource class
# endpoints: one constructor per kind so every handler describes the same
# situation the same way.

def conflict_of_kind(detail, kind, code=None, **members):
    """A 409 whose ``conflict`` member is ``{"kind": kind, **members}``;
    members that are None (unknown, or not sent) are left out."""
    member = {'kind': kind}
    member.update((k, v) for k, v in members.items() if v is not None)
    return conflict(detail, code=code, conflict=member)


def provider_generation_conflict(detail, rp_uuid, expected=None,
                                 current=None, code=CONCURRENT_UPDATE):
    """The provider is not (or no longer) at the generation the write
    relied on. ``expected``: the generation the request sent (None when it
    sent none); ``current``: the provider's generation now, if known."""
    return conflict_of_kind(detail, 'provider_generation', code=code,
                            resource_provider_uuid=rp_uuid,
                            expected=expected, current=current)


def inventory_in_use_conflict(detail, rp_uuid, resource_classes, code):
    """Inventory of ``resource_classes`` (names) still has allocations."""
    return conflict_of_kind(detail, 'inventory_in_use', code=code,
                            resource_provider_uuid=rp_uuid,
                            resource_classes=list(resource_classes))


def duplicate_conflict(detail, name=None, uuid=None, code=None):
    """Another provider / resource class already has this name or uuid."""
    return conflict_of_kind(detail, 'duplicate', code=code, name=name,
                            uuid=uuid)


def concurrent_update_conflict(detail, **members):
    """A write without a generation lost a database-level race (deadlock,
    duplicate key, lock timeout) with another request: retry it.
    ``members`` name what was written (resource_provider_uuid,
    resource_class or trait)."""
    return conflict_of_kind(detail, 'concurrent_update',
                            code=CONCURRENT_UPDATE, **members)
