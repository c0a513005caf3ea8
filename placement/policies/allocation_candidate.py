from placement.policies import base


LIST = 'placement:allocation_candidates:list'

rules = [
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List allocation candidates.',
        [{'method': 'GET', 'path': '/allocation_candidates'}]),
]


def list_rules():
    return rules
