"""The per-request context: identity, policy checks and the enginefacade
transaction state."""

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade
import webob.exc

from placement import errors
from placement import policy


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):

    def __init__(self, *args, **kwargs):
        self.config = kwargs.pop('config', None)
        super().__init__(*args, **kwargs)

    def can(self, action, target=None, fatal=True):
        """Check policy ``action`` for this context.

        ``target`` defaults to the caller's own project and user. When
        ``fatal`` a denial raises a 403 in placement's error format,
        otherwise False is returned.
        """
        if target is None:
            target = {'project_id': self.project_id,
                      'user_id': self.user_id}
        try:
            return policy.authorize(self, action, target)
        except policy.PolicyNotAuthorized:
            if not fatal:
                return False
            raise errors.http_error(
                webob.exc.HTTPForbidden,
                'Policy does not allow %s to be performed.' % action)
