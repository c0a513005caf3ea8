from placement.policies import base


LIST = 'placement:resource_providers:list'
CREATE = 'placement:resource_providers:create'
SHOW = 'placement:resource_providers:show'
UPDATE = 'placement:resource_providers:update'
DELETE = 'placement:resource_providers:delete'

rules = [
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List resource providers.',
        [{'method': 'GET', 'path': '/resource_providers'}]),
    base.api_rule(
        CREATE, base.ADMIN_OR_SERVICE, 'Create resource provider.',
        [{'method': 'POST', 'path': '/resource_providers'}]),
    base.api_rule(
        SHOW, base.ADMIN_OR_SERVICE, 'Show resource provider.',
        [{'method': 'GET', 'path': '/resource_providers/{uuid}'}]),
    base.api_rule(
        UPDATE, base.ADMIN_OR_SERVICE, 'Update resource provider.',
        [{'method': 'PUT', 'path': '/resource_providers/{uuid}'}]),
    base.api_rule(
        DELETE, base.ADMIN_OR_SERVICE, 'Delete resource provider.',
        [{'method': 'DELETE', 'path': '/resource_providers/{uuid}'}]),
]


def list_rules():
    return rules
