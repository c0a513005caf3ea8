"""Start and stop a Placement server for the benchmark and CLI tests.

Each started server gets a fresh config directory (``placement.conf``
with noauth2 and ``sync_on_startup``) exported as
``OS_PLACEMENT_CONFIG_DIR``, and a fresh database: a SQLite file in that
directory, or a newly created database on the server named by a
PostgreSQL/MySQL URL (dropped again on stop).
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import placement

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(
    placement.__file__)))

DEFAULT_COMMAND = ('{python} -m gunicorn -w 1 -b 127.0.0.1:{port} '
                   'placement.wsgi.api:application')

CONF_TEMPLATE = """[DEFAULT]
debug = False

[api]
auth_strategy = noauth2

[placement_database]
connection = {connection}
sync_on_startup = True
"""


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now.
"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_until_up(url, timeout=60.0, process=None):
    """Poll GET <url>/ until it answers 200; raise RuntimeError if not."""
    deadline = time.monotonic() + timeout
    root = url.rstrip('/') + '/'
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError('server exited with status %s before '
                               'answering %s' % (process.returncode, root))
        try:
            with urllib.request.urlopen(root, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError('%s did not answer within %ss: %s'
                       % (root, timeout, last))


class _ServerDatabase(object):
    """A fresh database on a PostgreSQL/MySQL server, by SQLAlchemy URL.

    The URL's database name (if any) is only used to connect for the
    CREATE/DROP; the fresh database gets a unique name.
    """

    def __init__(self, server_url):
        import sqlalchemy
        self._sa = sqlalchemy
        url = sqlalchemy.engine.make_url(server_url)
        self.name = 'placement_bench_%s' % uuid.uuid4().hex[:10]
        admin_db = url.database or (
            'postgres' if url.get_backend_name() == 'postgresql' else None)
        self._admin_url = url.set(database=admin_db)
        self.url = url.set(database=self.name).render_as_string(
            hide_password=False)
        self._run('CREATE DATABASE %s' % self.name)

    def _run(self, sql):
        engine = self._sa.create_engine(self._admin_url,
                                        isolation_level='AUTOCOMMIT')
        try:
            with engine.connect() as conn:
                conn.execute(self._sa.text(sql))
        finally:
            engine.dispose()

    def drop(self):
        self._run('DROP DATABASE IF EXISTS %s' % self.name)


class ManagedServer(object):
    """A server process launched from a shell-style command template.

    ``command`` may use ``{python}`` (this interpreter), ``{repo}`` (this
    checkout), ``{port}``, ``{host}`` and ``{config_dir}``; ``url`` is
    where it will answer (a free port on 127.0.0.1 when omitted).
    ``db_url`` None means SQLite.
    """

    def __init__(self, command=None, url=None, db_url=None, log_path=None,
                 start_timeout=90.0, extra_env=None, tmpdir=None):
        self.command = command or DEFAULT_COMMAND
        if url is None:
            url = 'http://127.0.0.1:%d' % free_port()
        self.url = url.rstrip('/')
        self.db_url = db_url
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.extra_env = extra_env or {}
        self.tmpdir = tmpdir
        self.process = None
        self.config_dir = None
        self._database = None
        self._log = None

    def _connection(self):
        if not self.db_url or self.db_url.startswith('sqlite'):
            return 'sqlite:///' + os.path.join(self.config_dir,
                                               'placement.sqlite')
        self._database = _ServerDatabase(self.db_url)
        return self._database.url

    def start(self):
        self.config_dir = tempfile.mkdtemp(prefix='placement-bench-',
                                           dir=self.tmpdir)
        with open(os.path.join(self.config_dir, 'placement.conf'), 'w') as f:
            f.write(CONF_TEMPLATE.format(connection=self._connection()))
        parsed = urllib.parse.urlsplit(self.url)
        argv = shlex.split(self.command.format(
            python=sys.executable, repo=REPO_ROOT, port=parsed.port or 80,
            host=parsed.hostname, config_dir=self.config_dir))
        env = dict(os.environ)
        env['OS_PLACEMENT_CONFIG_DIR'] = self.config_dir
        if self.command == DEFAULT_COMMAND:
            # Serve this checkout even when it is not installed.
            env['PYTHONPATH'] = os.pathsep.join(
                p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
        env.update(self.extra_env)
        log_path = self.log_path or os.path.join(self.config_dir,
                                                 'server.log')
        self._log = open(log_path, 'ab')
        self.process = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=self.config_dir)
        try:
            wait_until_up(self.url, self.start_timeout, self.process)
        except Exception:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError('could not start %r:\n%s' % (
                ' '.join(argv), tail))
        return self

    def log_tail(self, size=4000):
        path = self.log_path or (self.config_dir and os.path.join(
            self.config_dir, 'server.log'))
        try:
            with open(path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - size))
                return f.read().decode('utf-8', 'replace')
        except (OSError, TypeError):
            return ''

    def stop(self):
        """Stop the process group we started, then drop its database."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._database is not None:
            try:
                self._database.drop()
            finally:
                self._database = None
        if self.config_dir:
            shutil.rmtree(self.config_dir, ignore_errors=True)
        self.config_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
