from placement.policies import base


LIST = 'placement:resource_classes:list'
CREATE = 'placement:resource_classes:create'
SHOW = 'placement:resource_classes:show'
UPDATE = 'placement:resource_classes:update'
DELETE = 'placement:resource_classes:delete'

rules = [
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List resource classes.',
        [{'method': 'GET', 'path': '/resource_classes'}]),
    base.api_rule(
        CREATE, base.ADMIN_OR_SERVICE, 'Create resource class.',
        [{'method': 'POST', 'path': '/resource_classes'}]),
    base.api_rule(
        SHOW, base.ADMIN_OR_SERVICE, 'Show resource class.',
        [{'method': 'GET', 'path': '/resource_classes/{name}'}]),
    base.api_rule(
        UPDATE, base.ADMIN_OR_SERVICE, 'Update resource class.',
        [{'method': 'PUT', 'path': '/resource_classes/{name}'}]),
    base.api_rule(
        DELETE, base.ADMIN_OR_SERVICE, 'Delete resource class.',
        [{'method': 'DELETE', 'path': '/resource_classes/{name}'}]),
]


def list_rules():
    return rules
