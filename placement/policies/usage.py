from placement.policies import base

PROVIDER_USAGES = 'placement:resource_providers:usages'
TOTAL_USAGES = 'placement:usages'

rules = [
    base.api_rule(
        PROVIDER_USAGES, base.ADMIN_OR_SERVICE,
        'List resource provider usages.',
        [{'method': 'GET', 'path': '/resource_providers/{uuid}/usages'}]),
    # The target's project_id is the queried project, so a project reader
    # may see its own project's usages.
    base.api_rule(
        TOTAL_USAGES, base.ADMIN_OR_PROJECT_READER_OR_SERVICE,
        'List total resource usages for a given project.',
        [{'method': 'GET', 'path': '/usages'}]),
]


def list_rules():
    return rules
