"""Test fixtures shared by unit, DB-level and functional tests: a config
on a fresh ConfigOpts, a fresh database on a chosen backend, and policy.

Backends: ``sqlite`` (a file in a temp dir, so threads can share it),
``mysql`` (MariaDB/MySQL) and ``postgresql``. Server URLs come from
``PLACEMENT_TEST_MYSQL_URL`` / ``PLACEMENT_TEST_POSTGRESQL_URL`` (defaults
match the local services of the development machines). An unreachable
server skips its tests, unless ``PLACEMENT_TEST_DB_REQUIRED=1``, which
makes it a failure (CI sets it).

``galera`` is a MariaDB Galera cluster: ``PLACEMENT_TEST_GALERA_URLS``
lists one URL per node, comma separated (``tools/galera-cluster.sh urls``
prints them); its tests are skipped when it is unset (failed when the
servers are required). The test database is created through the first
node; ``galera_node_url`` points the same database at another node.
"""

import contextlib
import os
import uuid

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_policy import opts as policy_opts
import sqlalchemy as sa
import testtools

from placement import conf as placement_conf
from placement import context
from placement.db import api as db_api
from placement.db import models
from placement.objects import resource_class as rc_obj
from placement.objects import trait as trait_obj
from placement import policy

SERVER_URLS = {
    'mysql': os.environ.get(
        'PLACEMENT_TEST_MYSQL_URL',
        'mysql+pymysql://root@127.0.0.1:3306/test'),
    'postgresql': os.environ.get(
        'PLACEMENT_TEST_POSTGRESQL_URL',
        'postgresql+psycopg2://postgres@127.0.0.1:5432/test'),
}
GALERA_URLS = [url.strip() for url in os.environ.get(
    'PLACEMENT_TEST_GALERA_URLS', '').split(',') if url.strip()]
if GALERA_URLS:
    SERVER_URLS['galera'] = GALERA_URLS[0]
BACKENDS = ('sqlite', 'mysql', 'postgresql')
_REACHABLE = {}
# The SQLAlchemy dialect of each server backend.
DIALECTS = {'mysql': 'mysql', 'galera': 'mysql', 'postgresql': 'postgresql'}


def galera_node_url(url, node):
    """``url`` (a database on the cluster) through Galera node ``node``."""
    url = sa.engine.make_url(url)
    node_url = sa.engine.make_url(GALERA_URLS[node])
    return url.set(host=node_url.host, port=node_url.port).render_as_string(
        hide_password=False)


def db_required():
    return os.environ.get('PLACEMENT_TEST_DB_REQUIRED', '') not in (
        '', '0', 'false', 'False')


def _server_reachable(backend):
    if backend == 'galera' and not GALERA_URLS:
        return 'PLACEMENT_TEST_GALERA_URLS is not set'
    if backend not in _REACHABLE:
        try:
            engine = sa.create_engine(SERVER_URLS[backend])
            with engine.connect():
                pass
            engine.dispose()
            _REACHABLE[backend] = None
        except Exception as exc:  # any connection failure
            _REACHABLE[backend] = str(exc)
    return _REACHABLE[backend]


def require_backend(test, backend):
    """Skip (or, when required, fail) ``test`` if ``backend`` is down."""
    if backend == 'sqlite':
        return
    problem = _server_reachable(backend)
    if problem:
        message = '%s is not reachable: %s' % (backend, problem)
        if db_required():
            test.fail(message)
        test.skipTest(message)


def missing_database_url(backend):
    """A URL of ``backend`` whose database does not exist (connecting
    fails)."""
    if backend == 'sqlite':
        return 'sqlite:////nonexistent-%s/placement.db' % uuid.uuid4().hex
    return sa.engine.make_url(SERVER_URLS[backend]).set(
        database='missing_%s' % uuid.uuid4().hex[:12]).render_as_string(
            hide_password=False)


class ConfFixture(config_fixture.Config):
    """A fresh ConfigOpts with every placement option registered and the
    test defaults: noauth2, legacy policy defaults off as configured."""

    def __init__(self, conf=None):
        super().__init__(conf or cfg.ConfigOpts())

    def setUp(self):
        super().setUp()
        placement_conf.register_opts(self.conf)
        policy_opts.set_defaults(self.conf)
        self.conf([], default_config_files=[])
        self.config(group='api', auth_strategy='noauth2')


class Database(fixtures.Fixture):
    """A fresh, empty-but-seeded database on ``backend`` that the
    enginefacade uses for the fixture's lifetime.

    The schema comes from the models (``create_all``), which a unit test
    keeps identical to the alembic migrations.
    """

    def __init__(self, conf, backend='sqlite', seed=True):
        super().__init__()
        self.conf = conf
        self.backend = backend
        self.seed = seed

    def _create_server_database(self):
        name = 'placement_%s' % uuid.uuid4().hex[:12]
        admin = sa.create_engine(SERVER_URLS[self.backend],
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            conn.execute(sa.text('CREATE DATABASE %s' % name))
        url = sa.engine.make_url(SERVER_URLS[self.backend]).set(database=name)
        if DIALECTS[self.backend] == 'mysql':
            url = url.update_query_dict({'charset': 'utf8mb4'})

        def drop():
            with admin.connect() as conn:
                if self.backend == 'postgresql':
                    conn.execute(sa.text(
                        'SELECT pg_terminate_backend(pid) FROM '
                        'pg_stat_activity WHERE datname = :n AND '
                        'pid <> pg_backend_pid()'), {'n': name})
                conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
            admin.dispose()
        self.addCleanup(drop)
        return url.render_as_string(hide_password=False)

    def setUp(self):
        super().setUp()
        if self.backend == 'sqlite':
            tmpdir = self.useFixture(fixtures.TempDir()).path
            self.url = 'sqlite:///%s' % os.path.join(tmpdir, 'placement.db')
        else:
            self.url = self._create_server_database()
        self.conf.set_override('connection', self.url,
                               group='placement_database')
        self.conf.set_override('sqlite_synchronous', False,
                               group='placement_database')
        # A new transaction factory for this database, swapped into the
        # process-wide context manager for the fixture's lifetime.
        factory = db_api.context_manager.make_new_manager()
        db_conf = self.conf.placement_database
        extra = {}
        if self.backend == 'galera':
            # The test's own reads (checks after a race) see every write
            # the cluster committed before them, whichever node took it.
            extra['mysql_wsrep_sync_wait'] = 1
        factory.configure(connection=self.url,
                          sqlite_synchronous=False,
                          mysql_sql_mode=db_conf.mysql_sql_mode,
                          max_pool_size=20, max_overflow=20, **extra)
        reset = db_api.context_manager.patch_factory(factory)
        self.addCleanup(reset)
        self.engine = factory.writer.get_engine()
        self.addCleanup(self.engine.dispose)
        self.create_schema()
        if self.seed:
            ctx = context.RequestContext(config=self.conf)
            rc_obj.ensure_standard_classes(ctx)
            trait_obj.ensure_standard_traits(ctx)

    def create_schema(self):
        models.BASE.metadata.create_all(self.engine)

    def insert_provider(self, name=None, inventory=None, max_unit=None):
        """Insert a root provider directly (no API), with ``inventory``
        {resource class id: total} (min_unit 1, max_unit ``max_unit`` or
        the total, step 1, ratio 1.0). Returns (uuid, id)."""
        rp_uuid = str(uuid.uuid4())
        with self.engine.begin() as conn:
            rp_id = conn.execute(sa.insert(models.RP).values(
                uuid=rp_uuid, name=name or 'rp-' + rp_uuid, generation=0)
            ).inserted_primary_key[0]
            conn.execute(sa.update(models.RP).where(models.RP.c.id == rp_id)
                         .values(root_provider_id=rp_id))
            for rc_id, total in (inventory or {}).items():
                conn.execute(sa.insert(models.INV).values(
                    resource_provider_id=rp_id, resource_class_id=rc_id,
                    total=total, reserved=0, min_unit=1,
                    max_unit=max_unit or total, step_size=1,
                    allocation_ratio=1.0))
        return rp_uuid, rp_id


class PolicyFixture(fixtures.Fixture):
    """Initialise the process-wide enforcer from ``conf``; reset after."""

    def __init__(self, conf):
        super().__init__()
        self.conf = conf

    def setUp(self):
        super().setUp()
        policy.reset()
        policy.init(self.conf, suppress_deprecation_warnings=True)
        self.addCleanup(policy.reset)


class DBTestCase(testtools.TestCase):
    """A test on a fresh database of ``backend`` (set by subclasses; see
    ``for_each_backend``)."""

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        require_backend(self, self.backend)
        self.conf_fixture = self.useFixture(ConfFixture())
        self.conf = self.conf_fixture.conf
        self.db = self.useFixture(Database(self.conf, self.backend))
        self.useFixture(PolicyFixture(self.conf))
        self.ctx = context.RequestContext(
            user_id='admin', project_id='admin', roles=['admin'],
            config=self.conf)


@contextlib.contextmanager
def recorded_statements(with_autocommit=False):
    """The list of the first word of each statement run inside (the
    explicit BEGIN of SQLite's fixture left out); ``with_autocommit``:
    (word, whether the DBAPI connection was in autocommit)."""
    seen = []

    def record(conn, cursor, statement, *_args):
        verb = statement.split()[0].upper()
        if verb == 'BEGIN':
            return
        if with_autocommit:
            dbapi = conn.connection.dbapi_connection
            # (PyMySQL's autocommit is a method.)
            verb = (verb, getattr(dbapi, 'autocommit', False) is True)
        seen.append(verb)

    engine = db_api.get_engine()
    sa.event.listen(engine, 'before_cursor_execute', record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, 'before_cursor_execute', record)


def for_each_backend(namespace, base_class, backends=BACKENDS):
    """Define ``<Base>_<backend>`` subclasses of ``base_class`` in
    ``namespace`` (a module's globals()), one per backend. ``base_class``
    should not itself be collected (name it with a leading underscore)."""
    name = base_class.__name__.lstrip('_')
    for backend in backends:
        cls_name = '%s_%s' % (name, backend)
        namespace[cls_name] = type(cls_name, (base_class, DBTestCase),
                                   {'backend': backend,
                                    '__module__': namespace['__name__']})
