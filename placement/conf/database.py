from oslo_config import cfg

placement_db_group = cfg.OptGroup(
    'placement_database', title='Placement API database options',
    help='The Placement API Database is a separate database which can be '
         'used with the placement service.')

placement_db_opts = [
    cfg.StrOpt('connection',
               help='The SQLAlchemy connection string to use to connect to '
                    'the database.',
               secret=True),
    cfg.StrOpt('connection_parameters',
               default='',
               help='Optional URL parameters to append onto the connection '
                    'URL at connect time; specify as '
                    'param1=value1&param2=value2&...'),
    cfg.BoolOpt('sqlite_synchronous',
                default=True,
                help='If True, SQLite uses synchronous mode.'),
    cfg.StrOpt('slave_connection',
               secret=True,
               help='The SQLAlchemy connection string to use to connect to '
                    'the slave database.'),
    cfg.StrOpt('mysql_sql_mode',
               default='TRADITIONAL',
               help='The SQL mode to be used for MySQL sessions.'),
    cfg.IntOpt('mysql_wsrep_sync_wait',
               min=0, max=15,
               help='For a MariaDB/MySQL Galera cluster: the '
                    'wsrep_sync_wait bitmask set on every new connection '
                    '(1 = reads wait until the node has applied every '
                    'write the cluster committed before they started). '
                    'Set 1 when requests for one client may reach '
                    'different nodes, so a read right after a write '
                    'through another node sees it. Unset: the server '
                    'default.'),
    cfg.IntOpt('connection_recycle_time',
               default=3600,
               help='Connections which have been present in the connection '
                    'pool longer than this number of seconds will be '
                    'replaced with a new one the next time they are checked '
                    'out from the pool.'),
    cfg.IntOpt('max_pool_size',
               help='Maximum number of SQL connections to keep open in a '
                    'pool. Setting a value of 0 indicates no limit.'),
    cfg.IntOpt('max_retries',
               default=10,
               help='Maximum number of database connection retries during '
                    'startup. Set to -1 to specify an infinite retry count.'),
    cfg.IntOpt('retry_interval',
               default=10,
               help='Interval between retries of opening a SQL connection.'),
    cfg.IntOpt('max_overflow',
               help='If set, use this value for max_overflow with '
                    'SQLAlchemy.'),
    cfg.IntOpt('connection_debug',
               default=0,
               min=0, max=100,
               help='Verbosity of SQL debugging information: 0=None, '
                    '100=Everything.'),
    cfg.BoolOpt('connection_trace',
                default=False,
                help='Add Python stack traces to SQL as comment strings.'),
    cfg.IntOpt('pool_timeout',
               help='If set, use this value for pool_timeout with '
                    'SQLAlchemy.'),
    cfg.BoolOpt('sync_on_startup',
                default=False,
                help='If True, database schema migrations will be attempted '
                     'when the web service starts. Safe with several '
                     'workers starting at once: they serialise on a lock.'),
    cfg.BoolOpt('prepared_statements',
                default=True,
                help='PostgreSQL only: run the allocation candidate '
                     'queries that recur, and the read of a consumer\'s '
                     'allocations, as prepared statements, so that '
                     'each is planned once per connection. Turn off '
                     'behind a pooler that hands one session\'s '
                     'statements to several server connections (such as '
                     'PgBouncer in transaction mode).'),
]


def register_opts(conf):
    conf.register_group(placement_db_group)
    conf.register_opts(placement_db_opts, group=placement_db_group)


def list_opts():
    return [(placement_db_group, placement_db_opts)]
