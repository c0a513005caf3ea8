from placement.policies import base


LIST = 'placement:allocation_candidates:list'
EXPLAIN = 'placement:allocation_candidates:explain'

rules = [
    base.api_rule(
        LIST, base.ADMIN_OR_SERVICE, 'List allocation candidates.',
        [{'method': 'GET', 'path': '/allocation_candidates'}]),
    base.api_rule(
        EXPLAIN, base.ADMIN,
        'Explain which filters providers failed when listing allocation '
        'candidates (request header OpenStack-Placement-Explain: 1).',
        [{'method': 'GET', 'path': '/allocation_candidates'}]),
]


def list_rules():
    return rules
