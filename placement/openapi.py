"""The OpenAPI 3.1 description of the API, built from the routing table
(``handler.ROUTE_DECLARATIONS``) and the JSON schemas in
``placement.schemas``, so it cannot drift from what the service checks.

OpenAPI has no notion of microversions, so they are carried by extensions:

* ``x-openstack-microversion`` on an operation: ``{"min_version",
  "max_version"}``, the window in which the route/method exists (outside
  it the service answers 404, or 405 where upstream does).
* ``x-openstack-microversions`` on a request body: the list of
  ``{"min_version", "max_version", "schema"}`` windows; the body schema
  itself is the ``anyOf`` of them. On a query parameter: the windows in
  which the key is accepted.
* ``x-openstack-query-schemas`` on an operation: the exact JSON schema of
  the query string (a dict of the last value of each key) per window.
  Keys given by pattern (granular request groups such as ``resources1``)
  are only in these schemas.

``GET /openapi.json`` serves this document (no authentication, like
``/``); ``python -m placement.openapi`` prints it; ``at_version`` gives
the plain view of one microversion (what the fuzz tests generate from).
"""

import copy
import functools
import json
import sys

from placement import handler
from placement import microversion
from placement.schemas import aggregate as agg_schema
from placement.schemas import allocation as alloc_schema
from placement.schemas import allocation_candidate as ac_schema
from placement.schemas import inventory as inv_schema
from placement.schemas import reshaper as reshaper_schema
from placement.schemas import resource_class as rc_schema
from placement.schemas import resource_provider as rp_schema
from placement.schemas import trait as trait_schema
from placement.schemas import usage as usage_schema

OPENAPI_VERSION = '3.1.0'
VERSION_HEADER = 'OpenStack-API-Version'
EXTENSION_WINDOW = 'x-openstack-microversion'
EXTENSION_BODIES = 'x-openstack-microversions'
EXTENSION_QUERIES = 'x-openstack-query-schemas'
PUBLIC_PATHS = ('/', '/openapi.json')

_UUID = {'type': 'string', 'format': 'uuid'}
_NAME = {'type': 'string', 'minLength': 1}
PATH_PARAMETERS = {
    'uuid': dict(_UUID, description='A resource provider UUID.'),
    'consumer_uuid': dict(_UUID, description='A consumer UUID.'),
    'resource_class': dict(_NAME, description='A resource class name.'),
    'name': dict(_NAME, description='A resource class or trait name.'),
}


class Operation(object):
    """What the routing table cannot say about one handler: its version
    window, body and query schemas (a ``VersionWindows``, a plain schema
    for the whole window, or a list of (lo, hi, schema)), success statuses
    and whether it needs authentication."""

    def __init__(self, summary, ok, since=microversion.MIN_TUPLE,
                 body=None, query=None, public=False, headers=()):
        self.summary = summary
        self.ok = ok
        # Optional request headers (HEADERS); If-None-Match adds a 304.
        self.headers = headers
        self.since = since
        self.body = body
        self.query = query
        self.public = public


_OK = {200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified'}

# Beyond upstream: conditional requests (placement/etag.py) and the
# allocation candidates explanation.
IF_NONE_MATCH = 'If-None-Match'
IF_MATCH = 'If-Match'
EXPLAIN = 'OpenStack-Placement-Explain'
HEADERS = {
    IF_NONE_MATCH: 'An entity tag from ETag (or *): 304 when it still '
                   'matches.',
    IF_MATCH: 'The entity tag of the GET of this URL (or *): 412 unless it '
              'still matches.',
    EXPLAIN: '1/true/yes/on: add the explain member.',
}
_GET_TAGGED = (IF_NONE_MATCH,)
_WRITE_TAGGED = (IF_MATCH,)

OPERATIONS = {
    'root.home': Operation(
        'The version document.', (200,), public=True),
    'openapi.get_document': Operation(
        'This OpenAPI document.', (200,), public=True),
    'resource_provider.list_resource_providers': Operation(
        'List resource providers, optionally filtered (ETag with '
        'in_tree).', (200, 304), query=rp_schema.LIST,
        headers=_GET_TAGGED),
    'resource_provider.create_resource_provider': Operation(
        'Create a resource provider (201 without a body before 1.20, '
        '200 with the provider from 1.20).', (200, 201),
        body=rp_schema.POST),
    'resource_provider.get_resource_provider': Operation(
        'Show a resource provider.', (200, 304), headers=_GET_TAGGED),
    'resource_provider.update_resource_provider': Operation(
        'Rename, nest or re-parent (1.37) a resource provider.', (200,),
        body=rp_schema.PUT),
    'resource_provider.delete_resource_provider': Operation(
        'Delete a resource provider.', (204,)),
    'inventory.get_inventories': Operation(
        'List the inventories of a provider.', (200, 304),
        headers=_GET_TAGGED),
    'inventory.create_inventory': Operation(
        'Add one inventory record.', (201,),
        body=inv_schema.POST_INVENTORY),
    'inventory.set_inventories': Operation(
        'Replace all inventories of a provider.', (200,),
        body=inv_schema.PUT_INVENTORIES, headers=_WRITE_TAGGED),
    'inventory.delete_inventories': Operation(
        'Delete all inventories of a provider (405 before 1.5).', (204,),
        since=(1, 5)),
    'inventory.get_inventory': Operation(
        'Show one inventory record.', (200, 304), headers=_GET_TAGGED),
    'inventory.update_inventory': Operation(
        'Replace one inventory record.', (200,),
        body=inv_schema.PUT_INVENTORY_RECORD, headers=_WRITE_TAGGED),
    'inventory.delete_inventory': Operation(
        'Delete one inventory record.', (204,)),
    'usage.list_usages': Operation(
        'Usages of one provider, per resource class.', (200,)),
    'aggregate.get_aggregates': Operation(
        'The aggregates of a provider.', (200, 304), since=(1, 1),
        headers=_GET_TAGGED),
    'aggregate.set_aggregates': Operation(
        'Replace the aggregates of a provider.', (200,), since=(1, 1),
        body=agg_schema.PUT_AGGREGATES, headers=_WRITE_TAGGED),
    'allocation.list_for_resource_provider': Operation(
        'Allocations against one provider, per consumer.', (200, 304),
        headers=_GET_TAGGED),
    'trait.list_traits_for_resource_provider': Operation(
        'The traits of a provider.', (200, 304), since=(1, 6),
        headers=_GET_TAGGED),
    'trait.update_traits_for_resource_provider': Operation(
        'Replace the traits of a provider.', (200,), since=(1, 6),
        body=trait_schema.SET_PROVIDER_TRAITS, headers=_WRITE_TAGGED),
    'trait.delete_traits_for_resource_provider': Operation(
        'Remove every trait of a provider.', (204,), since=(1, 6)),
    'resource_class.list_resource_classes': Operation(
        'List resource classes.', (200,), since=(1, 2)),
    'resource_class.create_resource_class': Operation(
        'Create a custom resource class.', (201,), since=(1, 2),
        body=rc_schema.POST),
    'resource_class.get_resource_class': Operation(
        'Show a resource class.', (200,), since=(1, 2)),
    'resource_class.update_resource_class': Operation(
        'Rename a custom class (1.2-1.6, with a body); from 1.7 create it '
        'if absent (201) or confirm it (204), without a body.',
        (200, 201, 204), since=(1, 2),
        body=[((1, 2), (1, 6), rc_schema.PUT_RENAME)]),
    'resource_class.delete_resource_class': Operation(
        'Delete a custom resource class.', (204,), since=(1, 2)),
    'trait.list_traits': Operation(
        'List traits, optionally filtered.', (200,), since=(1, 6),
        query=trait_schema.LIST_TRAITS_QUERY),
    'trait.get_trait': Operation(
        'Check that a trait exists.', (204,), since=(1, 6)),
    'trait.put_trait': Operation(
        'Create a custom trait (201) or confirm it (204).', (201, 204),
        since=(1, 6)),
    'trait.delete_trait': Operation(
        'Delete a custom trait.', (204,), since=(1, 6)),
    'allocation.set_allocations': Operation(
        'Replace the allocations of several consumers atomically.', (204,),
        since=(1, 13), body=alloc_schema.POST_ALLOCATIONS),
    'allocation.list_for_consumer': Operation(
        'The allocations of one consumer.', (200, 304),
        headers=_GET_TAGGED),
    'allocation.set_allocations_for_consumer': Operation(
        'Replace the allocations of one consumer.', (204,),
        body=alloc_schema.PUT_ALLOCATIONS, headers=_WRITE_TAGGED),
    'allocation.delete_allocations': Operation(
        'Delete the allocations of one consumer.', (204,)),
    'usage.get_total_usages': Operation(
        'Usages of a project (and user, consumer type).', (200,),
        since=(1, 9), query=usage_schema.GET_USAGES_QUERY),
    'allocation_candidate.list_allocation_candidates': Operation(
        'Where a request for resources fits.', (200,), since=(1, 10),
        query=ac_schema.GET_SCHEMAS, headers=(EXPLAIN,)),
    'reshaper.reshape': Operation(
        'Move inventories and allocations atomically.', (204,),
        since=(1, 30), body=reshaper_schema.POST_RESHAPER),
}


def version_string(version):
    return '%d.%d' % tuple(version)


def parse_version(text):
    major, minor = text.split('.')
    return int(major), int(minor)


def _window(lo, hi):
    return {'min_version': version_string(lo),
            'max_version': version_string(hi)}


def windows_of(value, since):
    """``value`` (VersionWindows, schema, list or None) as a list of
    (lo, hi, schema), clipped to the operation's window."""
    if value is None:
        return []
    if isinstance(value, microversion.VersionWindows):
        items = value.windows
    elif isinstance(value, dict):
        items = [(since, microversion.MAX_TUPLE, value)]
    else:
        items = [(lo, hi or microversion.MAX_TUPLE, schema)
                 for lo, hi, schema in value]
    return [(max(lo, since), hi, schema) for lo, hi, schema in items
            if hi >= since]


def _component_name(operation_id, kind, lo, hi):
    return '%s.%s.%s-%s' % (operation_id, kind, version_string(lo),
                            version_string(hi))


def _merge(spans):
    """Adjacent (lo, hi) spans joined, as window dicts."""
    merged = []
    for lo, hi in sorted(spans):
        if merged and lo == (merged[-1][1][0], merged[-1][1][1] + 1):
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return [_window(lo, hi) for lo, hi in merged]


def _query_parameters(windows):
    """One parameter per named key of the query schemas, with the
    windows in which it is accepted."""
    spans = {}
    schemas = {}
    required = {}
    for lo, hi, schema in windows:
        for name, prop in schema.get('properties', {}).items():
            spans.setdefault(name, []).append((lo, hi))
            schemas[name] = prop
            required[name] = required.get(name, True) and (
                name in schema.get('required', ()))
    return [{
        'name': name,
        'in': 'query',
        'required': required[name] and len(spans[name]) == len(windows),
        'schema': copy.deepcopy(schemas[name]),
        EXTENSION_BODIES: _merge(spans[name]),
    } for name in sorted(spans)]


def _operation(path, method, handler_name, components):
    op = OPERATIONS[handler_name]
    since = op.since
    operation_id = handler_name
    doc = {
        'operationId': operation_id,
        'summary': op.summary,
        'tags': [handler_name.split('.')[0]],
        EXTENSION_WINDOW: _window(since, microversion.MAX_TUPLE),
        'parameters': [{'$ref': '#/components/parameters/Microversion'}],
        'responses': {},
    }
    for name in op.headers:
        doc['parameters'].append({
            'name': name, 'in': 'header', 'required': False,
            'description': HEADERS[name], 'schema': {'type': 'string'}})
    for name in _path_names(path):
        doc['parameters'].append({
            'name': name, 'in': 'path', 'required': True,
            'schema': copy.deepcopy(PATH_PARAMETERS[name])})
    queries = windows_of(op.query, since)
    if queries:
        doc['parameters'].extend(_query_parameters(queries))
        doc[EXTENSION_QUERIES] = []
        for lo, hi, schema in queries:
            ref = _component_name(operation_id, 'query', lo, hi)
            components[ref] = copy.deepcopy(schema)
            doc[EXTENSION_QUERIES].append(dict(
                _window(lo, hi), schema={'$ref': '#/components/schemas/' +
                                         ref}))
    bodies = windows_of(op.body, since)
    if bodies:
        branches = []
        for lo, hi, schema in bodies:
            ref = _component_name(operation_id, 'body', lo, hi)
            components[ref] = copy.deepcopy(schema)
            branches.append(dict(_window(lo, hi), schema={
                '$ref': '#/components/schemas/' + ref}))
        covered = sum(_count(lo, hi) for lo, hi, _s in bodies)
        doc['requestBody'] = {
            'required': covered == _count(since, microversion.MAX_TUPLE),
            'content': {'application/json': {'schema': {
                'anyOf': [b['schema'] for b in branches]}}},
            EXTENSION_BODIES: branches,
        }
    for status in op.ok:
        response = {'description': _OK[status]}
        if status == 200:
            response['content'] = {'application/json': {'schema': {}}}
        doc['responses'][str(status)] = response
    doc['responses']['default'] = {'$ref': '#/components/responses/Error'}
    if op.public:
        doc['security'] = []
    return doc


def _count(lo, hi):
    return hi[1] - lo[1] + 1


def _path_names(path):
    return [part[1:-1] for part in path.split('/')
            if part.startswith('{') and part.endswith('}')]


_ERROR_SCHEMA = {
    'type': 'object',
    'required': ['errors'],
    'properties': {'errors': {
        'type': 'array', 'minItems': 1,
        'items': {
            'type': 'object',
            'required': ['status', 'title', 'detail', 'request_id'],
            'properties': {
                'status': {'type': 'integer'},
                'title': {'type': 'string'},
                'detail': {'type': 'string'},
                'request_id': {'type': ['string', 'null']},
                'code': {'type': 'string',
                         'description': 'From microversion 1.23.'},
                'conflict': {
                    'type': 'object', 'required': ['kind'],
                    'properties': {'kind': {'type': 'string'}},
                    'description': 'On 409s: what conflicted (README).'},
                'min_version': {'type': 'string'},
                'max_version': {'type': 'string'},
            },
        },
    }},
}


@functools.lru_cache(maxsize=1)
def _document():
    components = {}
    paths = {}
    for path, methods in handler.ROUTE_DECLARATIONS.items():
        paths[path] = {
            method.lower(): _operation(path, method, name, components)
            for method, name in sorted(methods.items())}
    components['Error'] = _ERROR_SCHEMA
    return {
        'openapi': OPENAPI_VERSION,
        'info': {
            'title': 'Placement API',
            'version': microversion.MAX_VERSION,
            'description': (
                'OpenStack Placement, microversions %s-%s. Microversion '
                'windows are in the x-openstack-* extensions (see '
                'placement/openapi.py).' % (microversion.MIN_VERSION,
                                            microversion.MAX_VERSION)),
        },
        'paths': paths,
        'security': [{'token': []}],
        'components': {
            'schemas': components,
            'securitySchemes': {'token': {
                'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token'}},
            'parameters': {'Microversion': {
                'name': VERSION_HEADER, 'in': 'header', 'required': False,
                'description': 'placement <version>; absent means %s.' %
                               microversion.MIN_VERSION,
                'schema': {'type': 'string',
                           'examples': ['placement latest',
                                        'placement 1.39']}}},
            'responses': {'Error': {
                'description': 'An error (every 4xx/5xx).',
                'content': {'application/json': {'schema': {
                    '$ref': '#/components/schemas/Error'}}}}},
        },
    }


def document():
    """The whole OpenAPI document (a fresh copy)."""
    return copy.deepcopy(_document())


def at_version(version, doc=None):
    """The plain OpenAPI view of microversion ``version`` (a tuple): only
    the operations that exist then, each with the body and the query
    keys of that version and the version header fixed. Read from the
    document's extensions alone, as any client could."""
    doc = copy.deepcopy(doc or _document())
    text = version_string(version)

    def inside(window):
        return (parse_version(window['min_version']) <= version
                <= parse_version(window['max_version']))

    for path in list(doc['paths']):
        item = doc['paths'][path]
        for method in list(item):
            op = item[method]
            if not inside(op.pop(EXTENSION_WINDOW)):
                del item[method]
                continue
            params = [{'name': VERSION_HEADER, 'in': 'header',
                       'required': True,
                       'schema': {'const': 'placement ' + text}}]
            for param in op['parameters']:
                if '$ref' in param:
                    continue
                windows = param.pop(EXTENSION_BODIES, None)
                if windows is None or any(inside(w) for w in windows):
                    params.append(param)
            op['parameters'] = params
            queries = op.pop(EXTENSION_QUERIES, None)
            if queries:
                op[EXTENSION_QUERIES] = [
                    q['schema'] for q in queries if inside(q)]
            body = op.pop('requestBody', None)
            if body:
                for window in body[EXTENSION_BODIES]:
                    if inside(window):
                        op['requestBody'] = {
                            'required': True, 'content': {
                                'application/json': {
                                    'schema': window['schema']}}}
        if not item:
            del doc['paths'][path]
    doc['info']['version'] = text
    return doc


def main():
    json.dump(document(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
