"""JSON schemas of inventory request bodies."""

import copy

from placement.objects import inventory as inv_obj

RESOURCE_CLASS_PATTERN = '^[A-Z0-9_]+$'
MAX_FLOAT = 3.40282e+38


def _int(minimum):
    return {'type': 'integer', 'minimum': minimum,
            'maximum': inv_obj.MAX_INT}


# One record: POST adds resource_class, the single-class PUT requires the
# generation, and the records of PUT-all may carry an ignored generation.
RECORD = {
    'type': 'object',
    'properties': {
        'total': _int(1),
        'reserved': _int(0),
        'min_unit': _int(1),
        'max_unit': _int(1),
        'step_size': _int(1),
        'allocation_ratio': {'type': 'number', 'maximum': MAX_FLOAT},
        'resource_provider_generation': {'type': 'integer'},
    },
    'required': ['total'],
    'additionalProperties': False,
}

POST_INVENTORY = copy.deepcopy(RECORD)
POST_INVENTORY['properties']['resource_class'] = {
    'type': 'string', 'pattern': RESOURCE_CLASS_PATTERN}
POST_INVENTORY['required'] = ['total', 'resource_class']

PUT_INVENTORY_RECORD = copy.deepcopy(RECORD)
PUT_INVENTORY_RECORD['required'] = ['total', 'resource_provider_generation']

PUT_INVENTORIES = {
    'type': 'object',
    'properties': {
        'resource_provider_generation': {'type': 'integer'},
        'inventories': {
            'type': 'object',
            'patternProperties': {RESOURCE_CLASS_PATTERN: RECORD},
            'additionalProperties': False,
        },
    },
    'required': ['resource_provider_generation', 'inventories'],
    'additionalProperties': False,
}
