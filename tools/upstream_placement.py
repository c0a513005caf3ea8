"""A virtualenv with upstream openstack-placement, for the drop-in tests.

Upstream is used as a black box only: its ``placement-manage``,
``placement-status`` and its WSGI application served by gunicorn. The
venv is built once per version and reused (``.complete`` marks a finished
build; concurrent test workers wait on a lock file):

* ``$PLACEMENT_TEST_UPSTREAM_VENV`` when set (an existing venv is used
  as is);
* else ``$TOX_WORK_DIR/upstream-placement-<version>`` under tox;
* else ``<tmp>/placement-upstream-<version>``.

Run it directly to build (or find) the venv and print its path::

    python tools/upstream_placement.py [--version 16.0.0]
"""

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

VERSION = '16.0.0'
# The WSGI server and the database drivers the tests use.
EXTRA_PACKAGES = ('gunicorn', 'PyMySQL', 'psycopg2-binary')
MARKER = '.complete'


def default_location(version=VERSION):
    explicit = os.environ.get('PLACEMENT_TEST_UPSTREAM_VENV')
    if explicit:
        return explicit
    base = os.environ.get('TOX_WORK_DIR') or tempfile.gettempdir()
    return os.path.join(base, 'upstream-placement-%s' % version)


def _usable(path):
    return all(os.access(os.path.join(path, 'bin', tool), os.X_OK)
               for tool in ('python', 'gunicorn', 'placement-manage',
                            'placement-status'))


def _clean_env():
    """No PYTHONPATH/VIRTUAL_ENV of the caller leaks into upstream's."""
    env = dict(os.environ)
    for name in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME', 'PIP_USER'):
        env.pop(name, None)
    return env


def ensure_venv(version=VERSION, path=None, python=None, timeout=1800):
    """Return the path of a venv with openstack-placement==``version``,
    building it first when missing. Raises RuntimeError on failure.
    """
    path = path or default_location(version)
    if os.environ.get('PLACEMENT_TEST_UPSTREAM_VENV') == path:
        if not _usable(path):
            raise RuntimeError('PLACEMENT_TEST_UPSTREAM_VENV=%s is not a '
                               'venv with upstream placement and gunicorn'
                               % path)
        return path
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(path, MARKER)) and _usable(path):
            return path
        shutil.rmtree(path, ignore_errors=True)
        try:
            # Built in place (venv scripts embed their path); the marker,
            # written last, says it is complete.
            env = _clean_env()
            python = python or sys.executable
            steps = [
                [python, '-m', 'venv', path],
                [os.path.join(path, 'bin', 'python'), '-m', 'pip',
                 'install', '--quiet', '--disable-pip-version-check',
                 'openstack-placement==%s' % version] + list(EXTRA_PACKAGES),
            ]
            for argv in steps:
                proc = subprocess.run(argv, env=env, capture_output=True,
                                      text=True, timeout=timeout,
                                      cwd=parent)
                if proc.returncode:
                    raise RuntimeError('%s failed (%s):\n%s' % (
                        ' '.join(argv), proc.returncode,
                        (proc.stdout + proc.stderr)[-3000:]))
            if not _usable(path):
                raise RuntimeError('%s has no placement-manage/gunicorn '
                                   'after install' % path)
            with open(os.path.join(path, MARKER), 'w') as f:
                f.write(version + '\n')
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--version', default=VERSION)
    parser.add_argument('--path', default=None)
    args = parser.parse_args()
    print(ensure_venv(args.version, args.path))


if __name__ == '__main__':
    main()
