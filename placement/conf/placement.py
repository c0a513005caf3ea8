from oslo_config import cfg

placement_group = cfg.OptGroup(
    'placement', title='Placement Service Options',
    help='Configuration options for the placement service.')

placement_opts = [
    cfg.BoolOpt(
        'randomize_allocation_candidates',
        default=False,
        help='If True, when limiting allocation candidate results, the '
             'results will be a random sampling of the full result set. '
             'If False, allocation candidates are returned in a '
             'deterministic but undefined order.'),
    cfg.StrOpt(
        'incomplete_consumer_project_id',
        default='00000000-0000-0000-0000-000000000000',
        help='Early API microversions (<1.8) allowed creating allocations '
             'and not specifying a project or user identifier for the '
             'consumer. This project identifier is used for them.'),
    cfg.StrOpt(
        'incomplete_consumer_user_id',
        default='00000000-0000-0000-0000-000000000000',
        help='User identifier used for consumers written below 1.8.'),
    cfg.IntOpt(
        'allocation_conflict_retry_count',
        default=10,
        help='The number of times to retry, server-side, writing '
             'allocations when there is a resource provider generation '
             'conflict. Raising this value may be useful when many '
             'concurrent allocations to the same resource provider are '
             'expected.'),
    cfg.IntOpt(
        'max_allocation_candidates',
        default=-1,
        help='The maximum number of allocation candidates placement '
             'generates for a single request. -1 means no limit.'),
    cfg.StrOpt(
        'allocation_candidates_generation_strategy',
        default='depth-first',
        choices=('depth-first', 'breadth-first'),
        help='Order in which candidates from different root providers are '
             'generated when max_allocation_candidates limits the search.'),
]


def register_opts(conf):
    conf.register_group(placement_group)
    conf.register_opts(placement_opts, group=placement_group)


def list_opts():
    return [(placement_group, placement_opts)]
