"""JSON schema of POST /reshaper: 1.30 / 1.34 (+mappings) / 1.38
(+consumer_type). ``inventories`` values are PUT inventories bodies;
``allocations`` is a POST /allocations body (``{}`` allowed) that always
carries consumer generations."""

from placement import microversion
from placement.schemas import allocation as alloc_schema
from placement.schemas import inventory as inv_schema


def _reshaper(consumer_schema):
    return {
        'type': 'object',
        'properties': {
            'inventories': {
                'type': 'object',
                'minProperties': 1,
                'patternProperties': {
                    alloc_schema.UUID_KEY_PATTERN: inv_schema.PUT_INVENTORIES,
                },
                'additionalProperties': False,
            },
            'allocations': {
                'type': 'object',
                'patternProperties': {
                    alloc_schema.UUID_KEY_PATTERN: consumer_schema,
                },
                'additionalProperties': False,
            },
        },
        'required': ['inventories', 'allocations'],
        'additionalProperties': False,
    }


POST_RESHAPER = microversion.VersionWindows('POST /reshaper', [
    ((1, 30), (1, 33), _reshaper(alloc_schema.POST_CONSUMER_1_28)),
    ((1, 34), (1, 37), _reshaper(alloc_schema.POST_CONSUMER_1_34)),
    ((1, 38), None, _reshaper(alloc_schema.POST_CONSUMER_1_38)),
])
