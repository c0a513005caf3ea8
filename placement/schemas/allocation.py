"""JSON schemas of allocation writes, by microversion window.

PUT /allocations/{c}: 1.0 (list) / 1.8 (+project, user) / 1.12 (dict) /
1.28 (+consumer_generation, {} allowed) / 1.34 (+mappings) / 1.38
(+consumer_type). POST /allocations: 1.13 / 1.28 / 1.34 / 1.38. The
reshaper reuses ``POST_ALLOCATIONS``.
"""

import copy

from placement import microversion

RC_PATTERN = '^[A-Z0-9_]+$'
UUID_KEY_PATTERN = '^[0-9a-fA-F-]{36}$'
# Amounts are stored in a signed 32-bit column.
MAX_AMOUNT = 2147483647

RESOURCES = {
    'type': 'object',
    'minProperties': 1,
    'patternProperties': {
        RC_PATTERN: {'type': 'integer', 'minimum': 1,
                     'maximum': MAX_AMOUNT},
    },
    'additionalProperties': False,
}

EXTERNAL_ID = {'type': 'string', 'minLength': 1, 'maxLength': 255}

CONSUMER_GENERATION = {'type': ['integer', 'null']}

CONSUMER_TYPE = {'type': 'string', 'pattern': RC_PATTERN,
                 'minLength': 1, 'maxLength': 255}

MAPPINGS = {
    'type': 'object',
    'minProperties': 1,
    'patternProperties': {
        '^[a-zA-Z0-9_-]{1,64}$': {
            'type': 'array',
            'minItems': 1,
            'items': {'type': 'string', 'format': 'uuid'},
        },
    },
}

# 1.0–1.7: a list of {"resource_provider": {"uuid"}, "resources"}.
PUT_1_0 = {
    'type': 'object',
    'properties': {
        'allocations': {
            'type': 'array',
            'minItems': 1,
            'items': {
                'type': 'object',
                'properties': {
                    'resource_provider': {
                        'type': 'object',
                        'properties': {
                            'uuid': {'type': 'string', 'format': 'uuid'},
                        },
                        'required': ['uuid'],
                        'additionalProperties': False,
                    },
                    'resources': RESOURCES,
                },
                'required': ['resource_provider', 'resources'],
                'additionalProperties': False,
            },
        },
    },
    'required': ['allocations'],
    'additionalProperties': False,
}

PUT_1_8 = copy.deepcopy(PUT_1_0)
PUT_1_8['properties'].update(project_id=EXTERNAL_ID, user_id=EXTERNAL_ID)
PUT_1_8['required'].extend(['project_id', 'user_id'])

# {rp uuid: {"resources", "generation"?}}; ``generation`` is ignored.
ALLOCATIONS_DICT = {
    'type': 'object',
    'patternProperties': {
        UUID_KEY_PATTERN: {
            'type': 'object',
            'properties': {
                'generation': {'type': 'integer'},
                'resources': RESOURCES,
            },
            'required': ['resources'],
            'additionalProperties': False,
        },
    },
    'additionalProperties': False,
}

PUT_1_12 = {
    'type': 'object',
    'properties': {
        'allocations': dict(ALLOCATIONS_DICT, minProperties=1),
        'project_id': EXTERNAL_ID,
        'user_id': EXTERNAL_ID,
    },
    'required': ['allocations', 'project_id', 'user_id'],
    'additionalProperties': False,
}

PUT_1_28 = copy.deepcopy(PUT_1_12)
PUT_1_28['properties']['allocations'] = ALLOCATIONS_DICT
PUT_1_28['properties']['consumer_generation'] = CONSUMER_GENERATION
PUT_1_28['required'].append('consumer_generation')

PUT_1_34 = copy.deepcopy(PUT_1_28)
PUT_1_34['properties']['mappings'] = MAPPINGS

PUT_1_38 = copy.deepcopy(PUT_1_34)
PUT_1_38['properties']['consumer_type'] = CONSUMER_TYPE
PUT_1_38['required'].append('consumer_type')

PUT_ALLOCATIONS = microversion.VersionWindows('PUT /allocations/{c}', [
    ((1, 0), (1, 7), PUT_1_0),
    ((1, 8), (1, 11), PUT_1_8),
    ((1, 12), (1, 27), PUT_1_12),
    ((1, 28), (1, 33), PUT_1_28),
    ((1, 34), (1, 37), PUT_1_34),
    ((1, 38), None, PUT_1_38),
])


def _post(consumer_schema):
    return {
        'type': 'object',
        'minProperties': 1,
        'patternProperties': {UUID_KEY_PATTERN: consumer_schema},
        'additionalProperties': False,
    }


POST_CONSUMER_1_13 = {
    'type': 'object',
    'properties': {
        'allocations': ALLOCATIONS_DICT,
        'project_id': EXTERNAL_ID,
        'user_id': EXTERNAL_ID,
    },
    'required': ['allocations', 'project_id', 'user_id'],
    'additionalProperties': False,
}

POST_CONSUMER_1_28 = copy.deepcopy(POST_CONSUMER_1_13)
POST_CONSUMER_1_28['properties']['consumer_generation'] = CONSUMER_GENERATION
POST_CONSUMER_1_28['required'].append('consumer_generation')

POST_CONSUMER_1_34 = copy.deepcopy(POST_CONSUMER_1_28)
POST_CONSUMER_1_34['properties']['mappings'] = MAPPINGS

POST_CONSUMER_1_38 = copy.deepcopy(POST_CONSUMER_1_34)
POST_CONSUMER_1_38['properties']['consumer_type'] = CONSUMER_TYPE
POST_CONSUMER_1_38['required'].append('consumer_type')

POST_ALLOCATIONS = microversion.VersionWindows('POST /allocations', [
    ((1, 13), (1, 27), _post(POST_CONSUMER_1_13)),
    ((1, 28), (1, 33), _post(POST_CONSUMER_1_28)),
    ((1, 34), (1, 37), _post(POST_CONSUMER_1_34)),
    ((1, 38), None, _post(POST_CONSUMER_1_38)),
])
