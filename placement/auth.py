"""Authentication middleware: keystone (auth_token) or noauth2, with the
root document and ``/openapi.json`` always reachable without a token."""

from keystonemiddleware import auth_token
from oslo_log import log as logging
import webob.dec
import webob.exc

from placement import context

LOG = logging.getLogger(__name__)


# Public documents: the version document and the API description.
PUBLIC_PATHS = ('', '/', '/openapi.json')


def _is_root(environ):
    return environ.get('PATH_INFO', '') in PUBLIC_PATHS


class NoAuthMiddleware(object):
    """Trust the token: ``X-Auth-Token: <user>[:<project>]``.

    For tests and development only. Roles come from ``X-Roles`` when sent,
    else ``admin`` for the user literally named admin.
    """

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        if _is_root(req.environ):
            return self.application
        token = req.headers.get('X-Auth-Token')
        if not token:
            return webob.exc.HTTPUnauthorized()
        user_id, _sep, project_id = token.partition(':')
        project_id = project_id or user_id
        if 'X-Roles' in req.headers:
            roles = req.headers['X-Roles']
        else:
            roles = 'admin' if user_id == 'admin' else ''
        req.headers['X-User-Id'] = user_id
        if 'OpenStack-System-Scope' not in req.headers:
            # An explicit project header beats the one from the token.
            req.headers.setdefault('X-Tenant-Id', project_id)
        req.headers['X-Roles'] = roles
        return self.application


class RootBypassAuthProtocol(auth_token.AuthProtocol):
    """keystonemiddleware auth_token that lets ``/`` and
    ``/openapi.json`` through."""

    def __call__(self, environ, start_response):
        if _is_root(environ):
            return self._app(environ, start_response)
        return super().__call__(environ, start_response)


class PlacementKeystoneContext(object):
    """Build the RequestContext from identity headers (either strategy)."""

    def __init__(self, application, config):
        self.application = application
        self.config = config

    @webob.dec.wsgify
    def __call__(self, req):
        ctx = context.RequestContext.from_environ(
            req.environ, request_id=req.environ.get('openstack.request_id'),
            config=self.config)
        if ctx.user_id is None and not _is_root(req.environ):
            LOG.debug('Neither X_USER_ID nor X_USER found in request')
            return webob.exc.HTTPUnauthorized()
        req.environ['placement.context'] = ctx
        return self.application
