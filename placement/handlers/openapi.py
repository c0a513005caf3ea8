"""``GET /openapi.json``: the OpenAPI 3.1 description of the API (no auth,
no policy, like ``/``; built once per process by ``placement.openapi``)."""

from placement import openapi
from placement import util


def get_document(req):
    util.check_accept(req)
    data = openapi.document()
    # Where the service is mounted, so absolute tools resolve paths.
    data['servers'] = [{'url': req.script_name or '/'}]
    return util.json_response(req, data)
