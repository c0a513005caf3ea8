"""Query-string schemas of ``GET /allocation_candidates``, one per
microversion window (1.10 / 1.16 / 1.17 / 1.21 / 1.25 / 1.31 / 1.33 /
1.35 / 1.36). From 1.25 grouped keys are pattern properties, so unknown
keys are reported as "does not match any of the regexes"."""

import copy

from placement import microversion

# Group suffixes: numbers only (1.25-1.32), then names (>= 1.33).
NUMERIC_SUFFIX = '[1-9][0-9]*'
NAMED_SUFFIX = '[a-zA-Z0-9_-]{1,64}'

_STRING = {'type': 'string'}

GET_SCHEMA_1_10 = {
    'type': 'object',
    'properties': {
        'resources': _STRING,
    },
    'required': ['resources'],
    'additionalProperties': False,
}

GET_SCHEMA_1_16 = copy.deepcopy(GET_SCHEMA_1_10)
GET_SCHEMA_1_16['properties']['limit'] = {
    # A positive integer; 0, negatives and non-digits are rejected.
    'type': 'string',
    'pattern': '^[1-9][0-9]*$',
}

GET_SCHEMA_1_17 = copy.deepcopy(GET_SCHEMA_1_16)
GET_SCHEMA_1_17['properties']['required'] = _STRING

GET_SCHEMA_1_21 = copy.deepcopy(GET_SCHEMA_1_17)
GET_SCHEMA_1_21['properties']['member_of'] = _STRING


def _grouped_schema(suffix, prefixes):
    return {
        'type': 'object',
        'properties': {
            'limit': GET_SCHEMA_1_16['properties']['limit'],
            'group_policy': {'type': 'string', 'enum': ['none', 'isolate']},
        },
        'patternProperties': {
            '^%s(%s)?$' % (prefix, suffix): _STRING for prefix in prefixes
        },
        'additionalProperties': False,
    }


GROUP_PREFIXES_1_25 = ('resources', 'required', 'member_of')
GROUP_PREFIXES_1_31 = GROUP_PREFIXES_1_25 + ('in_tree',)

GET_SCHEMA_1_25 = _grouped_schema(NUMERIC_SUFFIX, GROUP_PREFIXES_1_25)
GET_SCHEMA_1_31 = _grouped_schema(NUMERIC_SUFFIX, GROUP_PREFIXES_1_31)
GET_SCHEMA_1_33 = _grouped_schema(NAMED_SUFFIX, GROUP_PREFIXES_1_31)

GET_SCHEMA_1_35 = copy.deepcopy(GET_SCHEMA_1_33)
GET_SCHEMA_1_35['properties']['root_required'] = _STRING

GET_SCHEMA_1_36 = copy.deepcopy(GET_SCHEMA_1_35)
GET_SCHEMA_1_36['properties']['same_subtree'] = _STRING

GET_SCHEMAS = microversion.VersionWindows('allocation_candidates GET', [
    ((1, 10), (1, 15), GET_SCHEMA_1_10),
    ((1, 16), (1, 16), GET_SCHEMA_1_16),
    ((1, 17), (1, 20), GET_SCHEMA_1_17),
    ((1, 21), (1, 24), GET_SCHEMA_1_21),
    ((1, 25), (1, 30), GET_SCHEMA_1_25),
    ((1, 31), (1, 32), GET_SCHEMA_1_31),
    ((1, 33), (1, 34), GET_SCHEMA_1_33),
    ((1, 35), (1, 35), GET_SCHEMA_1_35),
    ((1, 36), None, GET_SCHEMA_1_36),
])


def group_suffix_pattern(version):
    """Regex text of a group suffix at ``version``."""
    return NAMED_SUFFIX if version >= (1, 33) else NUMERIC_SUFFIX
