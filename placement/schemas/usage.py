"""Query schemas of GET /usages: 1.9 (project_id, user_id) and 1.38
(+consumer_type, a name, ``all`` or ``unknown``)."""

import copy

from placement import microversion

_EXTERNAL_ID = {'type': 'string', 'minLength': 1, 'maxLength': 255}

QUERY_1_9 = {
    'type': 'object',
    'properties': {
        'project_id': _EXTERNAL_ID,
        'user_id': _EXTERNAL_ID,
    },
    'required': ['project_id'],
    'additionalProperties': False,
}

QUERY_1_38 = copy.deepcopy(QUERY_1_9)
QUERY_1_38['properties']['consumer_type'] = {
    'type': 'string', 'minLength': 1, 'maxLength': 255,
    'pattern': '^[A-Z0-9_]+$|^all|^unknown$',
}

GET_USAGES_QUERY = microversion.VersionWindows('GET /usages', [
    ((1, 9), (1, 37), QUERY_1_9),
    ((1, 38), None, QUERY_1_38),
])
