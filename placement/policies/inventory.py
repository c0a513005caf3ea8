from placement.policies import base


LIST = 'placement:resource_providers:inventories:list'
CREATE = 'placement:resource_providers:inventories:create'
SHOW = 'placement:resource_providers:inventories:show'
UPDATE = 'placement:resource_providers:inventories:update'
DELETE = 'placement:resource_providers:inventories:delete'

_COLLECTION = '/resource_providers/{uuid}/inventories'
_ONE = '/resource_providers/{uuid}/inventories/{resource_class}'

rules = [
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List resource provider inventories.',
        [{'method': 'GET', 'path': '/resource_providers/{uuid}/inventories'}]),
    base.api_rule(
        CREATE, base.ADMIN_OR_SERVICE,
        'Create one resource provider inventory.',
        [{'method': 'POST', 'path': '/resource_providers/{uuid}/inventories'}]),
    base.api_rule(
        SHOW, base.ADMIN_OR_SERVICE, 'Show resource provider inventory.',
        [{'method': 'GET',
          'path': '/resource_providers/{uuid}/inventories/{resource_class}'}]),
    base.api_rule(
        UPDATE, base.ADMIN_OR_SERVICE, 'Update resource provider inventory.',
        [{'method': 'PUT', 'path': _COLLECTION},
         {'method': 'PUT', 'path': _ONE}]),
    base.api_rule(
        DELETE, base.ADMIN_OR_SERVICE, 'Delete resource provider inventory.',
        [{'method': 'DELETE', 'path': _COLLECTION},
         {'method': 'DELETE', 'path': _ONE}]),
]


def list_rules():
    return rules
