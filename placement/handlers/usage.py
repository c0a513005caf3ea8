"""Usages: GET /resource_providers/{uuid}/usages and GET /usages (1.9;
grouped by consumer type from 1.38)."""

from placement import microversion
from placement.objects import usage as usage_obj
from placement.policies import usage as policies
from placement.schemas import usage as schema
from placement import util


def list_usages(req):
    """GET /resource_providers/{uuid}/usages: every inventoried class."""
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.PROVIDER_USAGES)
    rp = util.provider_or_404(ctx, util.path_arg(req, 'uuid'))
    data = {'resource_provider_generation': rp.generation,
            'usages': usage_obj.provider_usages(ctx, rp.id)}
    return util.json_response(req, data)


def get_total_usages(req):
    """GET /usages?project_id=…[&user_id=…][&consumer_type=…]."""
    util.require_version(req, (1, 9))
    util.check_accept(req)
    ctx = util.context_of(req)
    # The queried project is the policy target, checked before the query
    # is validated (a project reader without project_id gets 403).
    ctx.can(policies.TOTAL_USAGES,
            target={'project_id': req.GET.get('project_id')})
    query = util.validate_query(req, schema.GET_USAGES_QUERY.for_request(req))
    project_id = query['project_id']
    user_id = query.get('user_id')
    if microversion.is_at_least(req, (1, 38)):
        usages = usage_obj.usages_by_consumer_type(
            ctx, project_id, user_id, query.get('consumer_type'))
    else:
        usages = usage_obj.total_usages(ctx, project_id, user_id)
    return util.json_response(req, {'usages': usages})
