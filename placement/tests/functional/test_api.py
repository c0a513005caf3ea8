"""Load every gabbi YAML file in ./gabbits as tests against an in-process
application (wsgi-intercept); each file gets a fresh database.

The whole set runs on SQLite, and again on MariaDB/MySQL and PostgreSQL
(test ids ``...test_api.mysql.*`` / ``...test_api.postgresql.*``) when
those servers are reachable or PLACEMENT_TEST_DB_REQUIRED is set — a
query that only SQLite accepts must not pass unnoticed.
PLACEMENT_TEST_GABBI_BACKENDS (comma-separated) narrows the set.
"""

import inspect
import os
import types
import unittest

from gabbi import driver
from gabbi import fixture as gabbi_fixture

from placement.tests import fixtures as db_fixtures
from placement.tests.functional.fixtures import gabbits as fixtures

TESTS_DIR = 'gabbits'


def _backends():
    wanted = os.environ.get('PLACEMENT_TEST_GABBI_BACKENDS',
                            ','.join(db_fixtures.BACKENDS))
    for backend in (b.strip() for b in wanted.split(',') if b.strip()):
        if (backend == 'sqlite' or db_fixtures.db_required() or
                not db_fixtures._server_reachable(backend)):
            yield backend


def _fixture_module(backend):
    """The gabbi fixture classes, subclassed to use ``backend``."""
    if backend == 'sqlite':
        return fixtures
    module = types.ModuleType('%s_%s' % (fixtures.__name__, backend))
    for name, cls in inspect.getmembers(fixtures, inspect.isclass):
        if issubclass(cls, gabbi_fixture.GabbiFixture):
            setattr(module, name, type(name, (cls,), {'backend': backend}))
    return module


def load_tests(loader, tests, pattern):
    test_dir = os.path.join(os.path.dirname(__file__), TESTS_DIR)
    suite = unittest.TestSuite()
    for backend in _backends():
        name = __name__
        if backend != 'sqlite':
            name = '%s.%s' % (__name__, backend)
        suite.addTest(driver.build_tests(
            test_dir, loader, host=None, test_loader_name=name,
            intercept=fixtures.setup_app,
            fixture_module=_fixture_module(backend), safe_yaml=False))
    return suite
