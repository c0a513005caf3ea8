from placement.policies import base


RESHAPE = 'placement:reshaper:reshape'

rules = [
    base.api_rule(
        RESHAPE, base.SERVICE, 'Reshape Inventory and Allocations.',
        [{'method': 'POST', 'path': '/reshaper'}]),
]


def list_rules():
    return rules
