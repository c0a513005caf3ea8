from oslo_config import cfg

api_group = cfg.OptGroup(
    'api', title='API options',
    help='Options under this group are used to define Placement API.')

api_opts = [
    cfg.StrOpt(
        'auth_strategy',
        default='keystone',
        choices=[
            ('keystone', 'Use keystone for authentication.'),
            ('noauth2', 'Designed for testing only, as it does no actual '
                        'credential checking. \'noauth2\' provides '
                        'administrative credentials only if \'admin\' is '
                        'specified as the username.'),
        ],
        deprecated_group='DEFAULT',
        help='Determine the strategy to use for authentication.'),
]


def register_opts(conf):
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)


def list_opts():
    return [(api_group, api_opts)]
