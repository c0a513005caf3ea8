from placement.policies import base


TRAITS_LIST = 'placement:traits:list'
TRAITS_SHOW = 'placement:traits:show'
TRAITS_UPDATE = 'placement:traits:update'
TRAITS_DELETE = 'placement:traits:delete'
RP_TRAITS_LIST = 'placement:resource_providers:traits:list'
RP_TRAITS_UPDATE = 'placement:resource_providers:traits:update'
RP_TRAITS_DELETE = 'placement:resource_providers:traits:delete'

rules = [
    base.api_rule(
        TRAITS_LIST, base.ADMIN_OR_SERVICE, 'List traits.',
        [{'method': 'GET', 'path': '/traits'}]),
    base.api_rule(
        TRAITS_SHOW, base.ADMIN_OR_SERVICE, 'Show trait.',
        [{'method': 'GET', 'path': '/traits/{name}'}]),
    base.api_rule(
        TRAITS_UPDATE, base.ADMIN_OR_SERVICE, 'Update trait.',
        [{'method': 'PUT', 'path': '/traits/{name}'}]),
    base.api_rule(
        TRAITS_DELETE, base.ADMIN_OR_SERVICE, 'Delete trait.',
        [{'method': 'DELETE', 'path': '/traits/{name}'}]),
    base.api_rule(
        RP_TRAITS_LIST, base.ADMIN_OR_SERVICE,
        'List resource provider traits.',
        [{'method': 'GET', 'path': '/resource_providers/{uuid}/traits'}]),
    base.api_rule(
        RP_TRAITS_UPDATE, base.ADMIN_OR_SERVICE,
        'Update resource provider traits.',
        [{'method': 'PUT', 'path': '/resource_providers/{uuid}/traits'}]),
    base.api_rule(
        RP_TRAITS_DELETE, base.ADMIN_OR_SERVICE,
        'Delete resource provider traits.',
        [{'method': 'DELETE', 'path': '/resource_providers/{uuid}/traits'}]),
]


def list_rules():
    return rules
