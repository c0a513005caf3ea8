"""``/resource_providers/{uuid}/aggregates`` (from microversion 1.1): a
bare list of uuids up to 1.18; with the provider generation, which PUT
checks and always bumps, from 1.19."""

from placement.db import api as db_api
from placement import errors
from placement import exception
from placement import microversion
from placement.policies import aggregate as policies
from placement.objects import aggregate as agg_obj
from placement.objects import resource_provider as rp_obj
from placement.schemas import aggregate as schema
from placement import util

AGGREGATES_MIN_VERSION = (1, 1)
GENERATION_MIN_VERSION = (1, 19)
GENERATION_CHANGED = ("Resource provider's generation already changed. "
                      "Please update the generation and try again.")


def _body(req, uuids, generation):
    data = {'aggregates': list(uuids)}
    if microversion.is_at_least(req, GENERATION_MIN_VERSION):
        data['resource_provider_generation'] = generation
    return data


def _response(req, uuids, generation, etag=False):
    # Aggregates have no timestamps: Last-Modified is now.
    return util.json_response(req, _body(req, uuids, generation), etag=etag)


def _view(req, ctx, rp):
    """(body, last modified) of GET .../aggregates for If-Match."""
    return _body(req, agg_obj.get_uuids(ctx, rp.id), rp.generation), None


def get_aggregates(req):
    util.check_accept(req)
    util.require_version(req, AGGREGATES_MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.LIST)
    with db_api.context_manager.reader.using(ctx):
        rp = util.provider_or_404(ctx, util.path_arg(req, 'uuid'))
        uuids = agg_obj.get_uuids(ctx, rp.id)
    return _response(req, uuids, rp.generation, etag=True)


def set_aggregates(req):
    """Replace the set. The provider is looked up before the body is
    validated (a 404 wins over a 400). The lookup and the write are one
    transaction when every aggregate named exists; new ones are created
    first in their own (see agg_obj.ensure), and the write then runs
    again from the lookup."""
    util.check_content_type(req)
    util.require_version(req, AGGREGATES_MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.UPDATE)
    for _attempt in range(2):
        with util.provider_write(ctx, util.path_arg(req, 'uuid'),
                                 GENERATION_CHANGED) as write:
            rp = write.provider
            util.check_if_match(req, _view, req, ctx, rp)
            body = util.extract_json(req.body,
                                     schema.PUT_AGGREGATES.for_request(req))
            generation = None
            if microversion.is_at_least(req, GENERATION_MIN_VERSION):
                generation = write.expected = (
                    body['resource_provider_generation'])
                uuids = body['aggregates']
                if generation != rp.generation:
                    raise errors.provider_generation_conflict(
                        GENERATION_CHANGED, rp.uuid, expected=generation,
                        current=rp.generation)
            else:
                uuids = body
            # Stored as sent, but spellings too long for the column
            # canonical.
            uuids = list(dict.fromkeys(util.storable_uuid(u) for u in uuids))
            ids, current = agg_obj.existing_and_held(ctx, rp.id, uuids)
            missing = [u for u in uuids if u not in ids]
            if not missing:
                generation = agg_obj.replace_for_provider(
                    ctx, rp.id, generation, [ids[u] for u in uuids],
                    current=current)
        if not missing:
            return _response(req, uuids, generation)
        try:
            with exception.db_races_as_conflict():
                agg_obj.ensure(ctx, missing)
        except exception.ConcurrentUpdateDetected:
            raise errors.provider_generation_conflict(
                GENERATION_CHANGED, rp.uuid, expected=generation,
                current=rp_obj.current_generation(ctx, rp.uuid))
    # (Aggregate rows are never deleted: the second pass finds them.)
    raise AssertionError('aggregates %s vanished after their creation' %
                         missing)
