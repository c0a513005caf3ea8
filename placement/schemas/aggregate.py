"""JSON schemas of ``PUT /resource_providers/{uuid}/aggregates``: a bare
list before 1.19, an object with the provider generation from 1.19."""

from placement import microversion

AGGREGATES = {
    'type': 'array',
    'items': {'type': 'string', 'format': 'uuid'},
    'uniqueItems': True,
}

PUT_AGGREGATES_V1_19 = {
    'type': 'object',
    'properties': {
        'aggregates': AGGREGATES,
        'resource_provider_generation': {'type': 'integer'},
    },
    'required': ['aggregates', 'resource_provider_generation'],
    'additionalProperties': False,
}

PUT_AGGREGATES = microversion.VersionWindows('PUT aggregates body', [
    ((1, 1), (1, 18), AGGREGATES),
    ((1, 19), None, PUT_AGGREGATES_V1_19),
])
