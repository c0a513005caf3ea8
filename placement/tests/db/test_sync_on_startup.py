"""Several worker processes starting at once with ``sync_on_startup``
on an empty database all come up, and the schema and standard data are
created exactly once."""

import os
import subprocess
import sys

import fixtures as fx
import os_resource_classes
import os_traits
import sqlalchemy as sa

from placement.db import migration
from placement.db import models
from placement.tests import fixtures

WORKERS = 4


class _ConcurrentStartup(object):

    def setUp(self):
        super().setUp()
        models.BASE.metadata.drop_all(self.db.engine)
        with self.db.engine.begin() as conn:
            conn.execute(sa.text('DROP TABLE IF EXISTS alembic_version'))

    def test_workers_start_together(self):
        config_dir = self.useFixture(fx.TempDir()).path
        with open(os.path.join(config_dir, 'placement.conf'), 'w') as conf:
            conf.write('[placement_database]\nconnection = %s\n'
                       'sync_on_startup = True\n'
                       '[api]\nauth_strategy = noauth2\n' % self.db.url)
        env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=config_dir)
        code = ('import placement.wsgi.api as api; '
                'assert callable(api.application)')
        procs = [subprocess.Popen([sys.executable, '-c', code], env=env,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
                 for _ in range(WORKERS)]
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
        for proc, output in zip(procs, outputs):
            self.assertEqual(0, proc.returncode, output.decode()[-3000:])
        self.assertEqual(migration.head(),
                         migration.version(engine=self.db.engine))
        with self.db.engine.connect() as conn:
            traits = conn.execute(sa.text(
                'SELECT COUNT(*), COUNT(DISTINCT name) FROM traits')).one()
            classes = conn.execute(sa.text(
                'SELECT COUNT(*) FROM resource_classes')).scalar()
        self.assertEqual(len(os_traits.get_traits()), traits[0])
        self.assertEqual(traits[0], traits[1])
        self.assertEqual(len(os_resource_classes.STANDARDS), classes)


fixtures.for_each_backend(globals(), _ConcurrentStartup)
