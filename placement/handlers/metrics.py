"""``GET /metrics`` (when ``[metrics] enabled``): the Prometheus text
exposition, after the ``placement:metrics`` policy check."""

import webob

from placement import metrics
from placement.policies import metrics as policies
from placement import util


def get_metrics(req):
    """GET /metrics."""
    util.context_of(req).can(policies.SHOW)
    body, content_type = req.environ[metrics.ENVIRON_KEY].exposition()
    resp = webob.Response(body=body, charset=None)
    resp.headers['Content-Type'] = content_type
    return resp
