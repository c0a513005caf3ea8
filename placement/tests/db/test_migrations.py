"""The alembic migrations build exactly the schema the models describe,
on every backend, and ``db sync`` is idempotent."""

from alembic import autogenerate
from alembic import migration as alembic_migration
import sqlalchemy as sa

from placement.db import migration
from placement.db import models
from placement.tests import fixtures


class _MigrationsMatchModels(object):

    def setUp(self):
        super().setUp()
        # An empty database: drop what the fixture created.
        models.BASE.metadata.drop_all(self.db.engine)
        with self.db.engine.begin() as conn:
            conn.execute(sa.text('DROP TABLE IF EXISTS alembic_version'))

    def test_upgrade_twice_then_compare(self):
        migration.upgrade('head', engine=self.db.engine)
        migration.upgrade('head', engine=self.db.engine)
        self.assertEqual(migration.head(),
                         migration.version(engine=self.db.engine))
        with self.db.engine.connect() as conn:
            context = alembic_migration.MigrationContext.configure(
                conn, opts={'compare_type': False})
            diff = autogenerate.compare_metadata(context,
                                                 models.BASE.metadata)
        # Foreign keys that SQLite cannot name are not a schema difference.
        diff = [d for d in diff if not (
            isinstance(d, tuple) and d[0] in ('add_fk', 'remove_fk'))]
        self.assertEqual([], diff)

    def test_head_is_upstream_head(self):
        self.assertEqual('a082b8bb98d0', migration.head())

    def test_refuses_null_root_provider_ids(self):
        migration.upgrade('b4ed3a175331', engine=self.db.engine)
        with self.db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO resource_providers (uuid, name, generation) "
                "VALUES ('11111111-1111-1111-1111-111111111111', 'x', 0)"))
        self.assertRaises(Exception, migration.upgrade, 'head',  # noqa: H202
                          engine=self.db.engine)


fixtures.for_each_backend(globals(), _MigrationsMatchModels)
