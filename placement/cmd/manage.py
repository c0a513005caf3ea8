"""``placement-manage``: database administration and the consistency
audit."""

import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_serialization import jsonutils

from placement import conf as placement_conf
from placement import context
from placement.db import api as db_api
from placement.db import migration
from placement.objects import audit as audit_obj
from placement.objects import data_migration

LOG = logging.getLogger(__name__)
DEFAULT_BATCH = 50


class DbCommands(object):

    def __init__(self, conf):
        self.conf = conf

    def db_sync(self):
        migration.upgrade('head')
        return 0

    def db_version(self):
        print(migration.version())
        return 0

    def db_stamp(self):
        migration.stamp(self.conf.command.version)
        return 0

    def db_online_data_migrations(self):
        max_count = self.conf.command.max_count
        if max_count is not None:
            try:
                max_count = int(max_count)
            except ValueError:
                max_count = -1
            if max_count < 1:
                print('Must supply a positive value for max_count')
                return 127
        ctx = context.RequestContext(config=self.conf)
        totals = {m.__name__: [0, 0] for m in
                  data_migration.ONLINE_MIGRATIONS}
        failed = False
        while True:
            ran = 0
            for migrate in data_migration.ONLINE_MIGRATIONS:
                try:
                    found, done = migrate(ctx, max_count or DEFAULT_BATCH)
                except Exception:
                    LOG.exception('Error attempting to run %s',
                                  migrate.__name__)
                    failed = True
                    found = done = 0
                totals[migrate.__name__][0] += found
                totals[migrate.__name__][1] += done
                ran += done
            if max_count is not None or not ran:
                break
        self._print_table(totals)
        if max_count is not None:
            return 1 if any(done for _f, done in totals.values()) else 0
        return 2 if failed else 0

    @staticmethod
    def _print_table(totals):
        rows = [('Migration', 'Total Found', 'Completed')] + [
            (name, str(found), str(done))
            for name, (found, done) in totals.items()]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
        print(rule)
        for index, row in enumerate(rows):
            print('| ' + ' | '.join(cell.ljust(w) for cell, w in
                                    zip(row, widths)) + ' |')
            if index == 0:
                print(rule)
        print(rule)


def _print_findings(findings):
    for section, title in audit_obj.SECTIONS.items():
        items = findings[section]
        print('%s: %d' % (title, len(items)))
        for item in items:
            print('  ' + ' '.join('%s=%s' % kv for kv in item.items()))


def audit(conf):
    """Report inconsistencies (exit 1 when there are any, 0 when clean);
    ``--fix`` deletes the safe ones first and the exit status is then
    about what remains."""
    ctx = context.RequestContext(config=conf)
    findings = audit_obj.report(ctx)
    result = {'findings': findings}
    remaining = findings
    if conf.command.fix:
        result['fixed'] = audit_obj.fix(ctx, [
            c['consumer_uuid'] for c in findings[audit_obj.EMPTY_CONSUMERS]])
        remaining = result['remaining'] = audit_obj.report(ctx)
    if conf.command.json:
        print(jsonutils.dumps(result, indent=2, sort_keys=True))
    else:
        _print_findings(findings)
        if conf.command.fix:
            print('Deleted: ' + ', '.join(
                '%d %s' % (len(result['fixed'][s]), s.replace('_', ' '))
                for s in audit_obj.FIXABLE))
    return 1 if any(remaining.values()) else 0


def _add_parsers(subparsers):
    db = subparsers.add_parser('db', help='Database commands.')
    db_sub = db.add_subparsers(dest='db_command')
    db_sub.required = True
    db_sub.add_parser('sync', help='Upgrade the schema to the latest '
                      'revision.').set_defaults(func='db_sync')
    db_sub.add_parser('version', help='Print the current schema '
                      'revision.').set_defaults(func='db_version')
    stamp = db_sub.add_parser('stamp', help='Record a schema revision '
                              'without migrating.')
    stamp.add_argument('version', help='The revision to stamp.')
    stamp.set_defaults(func='db_stamp')
    online = db_sub.add_parser(
        'online_data_migrations', help='Run the online data migrations.')
    online.add_argument('--max-count', metavar='<number>', dest='max_count',
                        help='Maximum number of objects to migrate; one '
                             'batch. Without it, run until done.')
    online.set_defaults(func='db_online_data_migrations')
    check = subparsers.add_parser(
        'audit', help='Report inconsistent rows (read-only unless --fix); '
                      'exit 1 when there are any.')
    check.add_argument('--json', action='store_true',
                       help='Print the report as JSON.')
    check.add_argument('--fix', action='store_true',
                       help='In one transaction, delete consumers without '
                            'allocations and unused project/user rows '
                            '(nothing else is ever changed).')
    check.set_defaults(func='audit')


def parse_config(argv, conf=None):
    conf = conf or cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf.register_cli_opt(cfg.SubCommandOpt(
        'command', title='Command', help='Available commands',
        handler=_add_parsers))
    conf(argv, project='placement')
    return conf


def main(argv=None, conf=None):
    conf = parse_config(sys.argv[1:] if argv is None else argv, conf)
    logging.setup(conf, 'placement')
    db_api.configure(conf)
    if conf.command.func == 'audit':
        return audit(conf)
    commands = DbCommands(conf)
    return getattr(commands, conf.command.func)()


if __name__ == '__main__':
    sys.exit(main())
