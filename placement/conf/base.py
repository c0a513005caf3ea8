import os

from oslo_config import cfg

base_opts = [
    cfg.BoolOpt(
        'log_options',
        default=True,
        help='Enables or disables logging values of all registered options '
             'when starting a service (at DEBUG level).'),
    cfg.StrOpt(
        'tempdir',
        help='Explicitly specify the temporary working directory.'),
    cfg.StrOpt(
        'pybasedir',
        default=os.path.abspath(
            os.path.join(os.path.dirname(__file__), '../../')),
        sample_default='<Path>',
        help='The directory where the Placement python modules are '
             'installed.'),
    cfg.StrOpt(
        'state_path',
        default='$pybasedir',
        help='The top-level directory for maintaining state used in '
             'Placement.'),
]

workarounds_group = cfg.OptGroup(
    'workarounds', title='Workaround options',
    help='Options for working around bugs and unusual deployments.')

workarounds_opts = [
    cfg.BoolOpt(
        'optimize_for_wide_provider_trees',
        default=False,
        help='Prune the allocation candidate combination search early '
             'with capacity checks. Performance only: results are the '
             'same either way.'),
]


def register_opts(conf):
    conf.register_opts(base_opts)
    conf.register_group(workarounds_group)
    conf.register_opts(workarounds_opts, group=workarounds_group)


def list_opts():
    return [('DEFAULT', base_opts), (workarounds_group, workarounds_opts)]
