"""JSON schemas of ``/resource_providers`` bodies and query strings, one
per microversion window."""

import copy

from placement import microversion

_UUID = {'type': 'string', 'format': 'uuid'}
_PARENT = {'anyOf': [_UUID, {'type': 'null'}]}
_NAME = {'type': 'string', 'maxLength': 200}

POST_BASE = {
    'type': 'object',
    'properties': {'name': _NAME, 'uuid': _UUID},
    'required': ['name'],
    'additionalProperties': False,
}
PUT_BASE = {
    'type': 'object',
    'properties': {'name': _NAME},
    'required': ['name'],
    'additionalProperties': False,
}


def _plus(schema, **properties):
    result = copy.deepcopy(schema)
    result['properties'].update(copy.deepcopy(properties))
    return result


POST_1_14 = _plus(POST_BASE, parent_provider_uuid=_PARENT)
PUT_1_14 = _plus(PUT_BASE, parent_provider_uuid=_PARENT)

POST = microversion.VersionWindows('resource_provider.POST', [
    ((1, 0), (1, 13), POST_BASE),
    ((1, 14), None, POST_1_14),
])
PUT = microversion.VersionWindows('resource_provider.PUT', [
    ((1, 0), (1, 13), PUT_BASE),
    ((1, 14), None, PUT_1_14),
])

# GET /resource_providers: each version adds one filter. Values are
# checked by the handler (query_params), so they are plain strings here.
_STRING = {'type': 'string'}
LIST_BASE = {
    'type': 'object',
    'properties': {'name': _STRING, 'uuid': _UUID},
    'additionalProperties': False,
}
LIST_1_3 = _plus(LIST_BASE, member_of=_STRING)
LIST_1_4 = _plus(LIST_1_3, resources=_STRING)
LIST_1_14 = _plus(LIST_1_4, in_tree=_UUID)
LIST_1_18 = _plus(LIST_1_14, required=_STRING)

LIST = microversion.VersionWindows('resource_provider.LIST', [
    ((1, 0), (1, 2), LIST_BASE),
    ((1, 3), (1, 3), LIST_1_3),
    ((1, 4), (1, 13), LIST_1_4),
    ((1, 14), (1, 17), LIST_1_14),
    ((1, 18), None, LIST_1_18),
])
