"""The root document: ``GET /`` (no auth, no policy)."""

from placement import microversion
from placement import util


def home(req):
    data = {'versions': [{
        'id': 'v1.0',
        'max_version': microversion.MAX_VERSION,
        'min_version': microversion.MIN_VERSION,
        'status': 'CURRENT',
        'links': [{'rel': 'self', 'href': ''}],
    }]}
    return util.json_response(req, data)
