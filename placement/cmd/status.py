"""``placement-status upgrade check``: is this deployment ready for this
release?"""

import sys

from oslo_config import cfg
from oslo_upgradecheck import common_checks
from oslo_upgradecheck import upgradecheck

from placement import conf as placement_conf
from placement import context
from placement.db import api as db_api
from placement.db import migration
from placement.objects import data_migration


class Checks(upgradecheck.UpgradeCommands):

    def __init__(self, conf):
        self.conf = conf
        self.ctx = context.RequestContext(config=conf)

    def _check_schema_version(self):
        current, head = migration.version(), migration.head()
        if current != head:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Database schema is at revision %s, expected %s. Run '
                '"placement-manage db sync".' % (current, head))
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)

    def _check_root_provider_ids(self):
        missing = data_migration.count_missing_root_ids(self.ctx)
        if missing:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'There are %s resource providers with no root provider id. '
                'Run "placement-manage db online_data_migrations".' % missing)
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)

    def _check_incomplete_consumers(self):
        missing = data_migration.count_incomplete_consumers(self.ctx)
        if missing:
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                'There are %s incomplete consumers. Run '
                '"placement-manage db online_data_migrations".' % missing)
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)

    _upgrade_checks = (
        ('Database Schema Version', _check_schema_version),
        ('Missing Root Provider IDs', _check_root_provider_ids),
        ('Incomplete Consumers', _check_incomplete_consumers),
        ('Policy File JSON to YAML Migration',
         (common_checks.check_policy_json, {'conf': None})),
    )


def main(argv=None, conf=None):
    conf = conf or cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    checks = Checks(conf)
    # The policy check reads the same ConfigOpts.
    checks._upgrade_checks = tuple(
        (name, (func[0], {'conf': conf}) if isinstance(func, tuple) else func)
        for name, func in Checks._upgrade_checks)
    upgradecheck.register_cli_options(conf, checks)
    conf(sys.argv[1:] if argv is None else argv, project='placement')
    db_api.configure(conf)
    return upgradecheck.run(conf)


if __name__ == '__main__':
    sys.exit(main())
