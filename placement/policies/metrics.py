from placement.policies import base

SHOW = 'placement:metrics'

rules = [
    # Operational data about every tenant's traffic: admin only (or no
    # check at all with [metrics] allow_unauthenticated).
    base.api_rule(
        SHOW, base.ADMIN,
        'Scrape the Prometheus metrics of the service.',
        [{'method': 'GET', 'path': '/metrics'}]),
]


def list_rules():
    return rules
