from placement.policies import base


LIST = 'placement:resource_providers:aggregates:list'
UPDATE = 'placement:resource_providers:aggregates:update'

rules = [
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List resource provider aggregates.',
        [{'method': 'GET', 'path': '/resource_providers/{uuid}/aggregates'}]),
    base.api_rule(
        UPDATE, base.ADMIN_OR_SERVICE, 'Update resource provider aggregates.',
        [{'method': 'PUT', 'path': '/resource_providers/{uuid}/aggregates'}]),
]


def list_rules():
    return rules
