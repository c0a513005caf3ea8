"""Assemble the WSGI application: configuration in, middleware stack out."""

import os
import sys
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging
from oslo_middleware import cors
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
import webob.dec
import webob.exc

from placement import auth
from placement import conf as placement_conf
from placement import context
from placement.db import api as db_api
from placement.db import migration
from placement import errors
from placement import handler
from placement import healthcheck
from placement import metrics
from placement import microversion
from placement import plainwsgi
from placement.objects import resource_class as rc_obj
from placement.objects import trait as trait_obj
from placement import policy
from placement import util

LOG = logging.getLogger(__name__)
CONFIG_FILE = 'placement.conf'


class FaultWrapper(object):
    """Turn an unexpected exception into a logged JSON 500 (never a
    traceback to the client); an unreachable database (or cluster node)
    into a JSON 503 instead, which the client may retry. Plain WSGI, as
    the other middleware of ours: a webob layer builds a Request and a
    Response for every request it passes."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        started = []

        def noting_start_response(status, headers, exc_info=None):
            started.append(True)
            return start_response(status, headers, exc_info)
        try:
            return plainwsgi.body(self.application(environ,
                                                   noting_start_response))
        except Exception as exc:
            error = self._error_for(exc, environ)
            # A response the application began is replaced (PEP 3333).
            exc_info = sys.exc_info() if started else None

        def error_start_response(status, headers, _exc_info=None):
            return start_response(status, headers, exc_info)
        return error(environ, error_start_response)

    @staticmethod
    def _error_for(exc, environ):
        method = environ.get('REQUEST_METHOD')
        if db_api.is_unavailable(exc):
            LOG.warning('Database unavailable handling %s %s: %s',
                        method, _raw_path(environ), exc)
            return errors.database_unavailable()
        LOG.exception('Uncaught exception handling %s %s',
                      method, _raw_path(environ))
        return errors.http_error(
            webob.exc.HTTPInternalServerError,
            'An unexpected error occurred: %s' % type(exc).__name__)


class DefaultAcceptJSON(object):
    """A missing or ``*/*`` Accept means JSON, so error bodies are JSON."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if environ.get('HTTP_ACCEPT', '*/*').strip() in ('', '*/*'):
            environ['HTTP_ACCEPT'] = 'application/json'
        return self.application(environ, start_response)


def _raw_path(environ):
    """The request path and query for log lines, re-quoted from the
    server's bytes: unlike ``req.path_qs`` it cannot fail to decode."""
    path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    path = urllib.parse.quote(path.encode('latin-1', 'replace'),
                              safe="/~!$&'()*+,;=:@")
    query = environ.get('QUERY_STRING')
    return '%s?%s' % (path, query) if query else path


class BodyFraming(object):
    """The input boundary, before routing: framing headers, a body as
    long as its Content-Length, a path and query string that decode as
    UTF-8 (``util.check_request_text``); all 400s with the JSON body."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        length = req.environ.get('CONTENT_LENGTH')
        if length:
            try:
                length = int(length)
            except ValueError:
                raise errors.bad_request(
                    'content-length header must be an integer')
            if length > 0 and not req.environ.get('CONTENT_TYPE'):
                raise errors.bad_request(
                    'content-type header required when content-length > 0')
        util.check_request_text(req)
        util.read_body(req)
        return self.application


class RequestLog(object):
    """One INFO line per request: method, path, status, size, version."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        seen = []

        def logging_start_response(status, headers, exc_info=None):
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)
        body = plainwsgi.body(self.application(environ,
                                               logging_start_response))
        status, headers = seen or ('- -', [])
        length = plainwsgi.header_value(headers, 'Content-Length')
        version = environ.get(errors.VERSION_ENVIRON_KEY)
        LOG.info('%(addr)s "%(method)s %(path)s" status: %(status)s '
                 'len: %(len)s microversion: %(version)s',
                 {'addr': environ.get('REMOTE_ADDR'),
                  'method': environ.get('REQUEST_METHOD'),
                  'path': _raw_path(environ), 'status': status.split()[0],
                  'len': int(length) if length else None,
                  'version': '%d.%d' % version if version else '-'})
        return body


def deploy(conf):
    """The middleware stack, built inside-out; read it bottom-up for the
    order a request passes through (spec README §1)."""
    # 8. Routing to handlers; 405/404 for unknown method/path.
    application = handler.PlacementHandler(config=conf)
    # 6. Body framing (before routing).
    application = BodyFraming(application)
    # Unexpected handler exceptions become JSON 500s that still carry the
    # negotiated version.
    application = FaultWrapper(application)
    # 5. Microversion negotiation; stamps OpenStack-API-Version.
    application = microversion.MicroversionMiddleware(application)
    # 4b. Request context from identity headers (401 without a user).
    application = auth.PlacementKeystoneContext(application, conf)
    # 4a. Authentication (the root document needs none).
    if conf.api.auth_strategy == 'noauth2':
        application = auth.NoAuthMiddleware(application)
    else:
        application = auth.RootBypassAuthProtocol(
            application, {'oslo_config_config': conf})
    # 3. CORS, only when an origin is configured.
    if conf.cors.allowed_origin:
        application = cors.CORS(application, conf)
    # Honour X-Forwarded-Proto/Forwarded when building absolute URLs,
    # when enabled (disabled, the middleware is a no-op that still costs
    # tens of microseconds a request).
    if conf.oslo_middleware.enable_proxy_headers_parsing:
        application = http_proxy_to_wsgi.HTTPProxyToWSGI(application, conf)
    # 2. No Accept (or */*) means JSON.
    application = DefaultAcceptJSON(application)
    # Anything else unexpected (auth, context) becomes a JSON 500 too.
    application = FaultWrapper(application)
    application = RequestLog(application)
    # Prometheus metrics (opt-in) and GET /healthcheck, before auth.
    application = metrics.wrap(application, conf)
    application = healthcheck.wrap(application, conf)
    # 1. Request id on every response.
    application = request_id.RequestId(application)
    return application


def loadapp(conf):
    """The WSGI application for ``conf``, with policy initialised."""
    policy.init(conf)
    util.build_validators()
    return deploy(conf)


def init_database(conf):
    """Configure the engine, migrate when ``sync_on_startup`` (serialised
    across workers by a lock), then insert any missing standard resource
    classes and traits (insert-only, safe when workers start together)."""
    if not conf.placement_database.connection:
        raise RuntimeError(
            '[placement_database] connection is required to start the '
            'placement service')
    db_api.configure(conf)
    engine = db_api.get_engine()
    # One worker at a time: SQLite fails (rather than waits) when two
    # processes upgrade a read transaction to a write at once.
    with migration.schema_lock(engine):
        if conf.placement_database.sync_on_startup:
            migration.upgrade_locked(engine)
        ctx = context.RequestContext(config=conf)
        rc_obj.ensure_standard_classes(ctx)
        trait_obj.ensure_standard_traits(ctx)


def config_files():
    """``$OS_PLACEMENT_CONFIG_DIR/placement.conf`` only, when that is set
    and not blank; else oslo.config's standard search for placement."""
    config_dir = os.environ.get('OS_PLACEMENT_CONFIG_DIR', '').strip()
    if config_dir:
        return [os.path.join(config_dir, CONFIG_FILE)]
    return cfg.find_config_files(project='placement')


def parse_config(argv=None):
    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf(argv or [], project='placement', default_config_files=config_files())
    return conf


def init_application():
    """Build the application once per process: config, logging, database
    (optionally migrated), standard classes and traits, middleware."""
    conf = parse_config()
    logging.setup(conf, 'placement')
    if conf.log_options:
        conf.log_opt_values(logging.getLogger(__name__), logging.DEBUG)
    init_database(conf)
    return loadapp(conf)
