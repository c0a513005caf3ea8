from placement.policies import base


MANAGE = 'placement:allocations:manage'
LIST = 'placement:allocations:list'
UPDATE = 'placement:allocations:update'
DELETE = 'placement:allocations:delete'
RP_ALLOC_LIST = 'placement:resource_providers:allocations:list'

rules = [
    base.api_rule(
        MANAGE, base.ADMIN_OR_SERVICE, 'Manage allocations.',
        [{'method': 'POST', 'path': '/allocations'}]),
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List allocations.',
        [{'method': 'GET', 'path': '/allocations/{consumer_uuid}'}]),
    base.api_rule(
        UPDATE, base.ADMIN_OR_SERVICE, 'Update allocations.',
        [{'method': 'PUT', 'path': '/allocations/{consumer_uuid}'}]),
    base.api_rule(
        DELETE, base.ADMIN_OR_SERVICE, 'Delete allocations.',
        [{'method': 'DELETE', 'path': '/allocations/{consumer_uuid}'}]),
    base.api_rule(
        RP_ALLOC_LIST, base.ADMIN_OR_SERVICE,
        'List resource provider allocations.',
        [{'method': 'GET', 'path': '/resource_providers/{uuid}/allocations'}]),
]


def list_rules():
    return rules
