"""Load every gabbi YAML file in ./gabbits as tests against an in-process
application (wsgi-intercept); each file gets a fresh database."""

import os

from gabbi import driver

from placement.tests.functional.fixtures import gabbits as fixtures

TESTS_DIR = 'gabbits'


def load_tests(loader, tests, pattern):
    test_dir = os.path.join(os.path.dirname(__file__), TESTS_DIR)
    return driver.build_tests(test_dir, loader, host=None,
                              test_loader_name=__name__,
                              intercept=fixtures.setup_app,
                              fixture_module=fixtures,
                              safe_yaml=False)
