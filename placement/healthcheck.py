"""``GET /healthcheck`` for load balancers: oslo.middleware's healthcheck
application, answered before authentication (no token), plus a backend
plugin that checks the database answers.

Configured in ``[healthcheck]`` (oslo.middleware's options; placement
defaults ``backends`` to ``placement_database``). Add ``disable_by_file``
with ``disable_by_file_path`` to take a host out of rotation by creating
a file.
"""

from oslo_log import log as logging
from oslo_middleware import healthcheck
from oslo_middleware.healthcheck import pluginbase
import sqlalchemy as sa

from placement.db import api as db_api

LOG = logging.getLogger(__name__)
PATH = '/healthcheck'
BACKEND = 'placement_database'


class DatabaseHealthcheck(pluginbase.HealthcheckBaseExtension):
    """Available when the database answers ``SELECT 1``: a worker whose
    database is unreachable can serve nothing but errors."""

    def healthcheck(self, server_port):
        try:
            with db_api.get_engine().connect() as conn:
                conn.execute(sa.text('SELECT 1'))
        except Exception as exc:  # any failure means "not healthy"
            LOG.warning('Healthcheck: the database does not answer: %s', exc)
            return pluginbase.HealthcheckResult(
                available=False, reason='DATABASE UNAVAILABLE',
                details=type(exc).__name__)
        return pluginbase.HealthcheckResult(
            available=True, reason='OK', details='database answered')


def wrap(application, conf):
    """``application`` with ``GET|HEAD /healthcheck`` answered in front of
    it (outside authentication and the request log)."""
    check = healthcheck.Healthcheck(None, conf)

    def dispatch(environ, start_response):
        if environ.get('PATH_INFO') == PATH:
            return check(environ, start_response)
        return application(environ, start_response)
    return dispatch
