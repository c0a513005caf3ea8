"""``/traits[/{name}]`` (the trait catalogue) and
``/resource_providers/{uuid}/traits`` (a provider's trait set). All from
microversion 1.6."""

import re

from placement import errors
from placement import exception
from placement.objects import resource_provider as rp_obj
from placement.objects import trait as trait_obj
from placement.policies import trait as policies
from placement.schemas import trait as schema
from placement import util

TRAITS_MIN_VERSION = (1, 6)
CUSTOM_TRAIT_RE = re.compile(r'CUSTOM_[A-Z0-9_]+')
GENERATION_CHANGED = ("Resource provider's generation already changed. "
                      "Please update the generation and try again.")


def _generation_conflict(ctx, rp, expected=None, current=None):
    """``current`` defaults to a fresh read (after a lost
    compare-and-set)."""
    if current is None:
        current = rp_obj.current_generation(ctx, rp.uuid)
    return errors.provider_generation_conflict(
        GENERATION_CHANGED, rp.uuid, expected=expected, current=current)


def _trait_race(exc, name):
    return errors.concurrent_update_conflict(str(exc), trait=name)


def _name_filter(value):
    """(names, prefix) from ``name=in:A,B`` / ``name=startswith:P``; any
    other operator filters nothing (upstream's quirk)."""
    if ':' not in value:
        raise errors.bad_request(
            'Badly formatted name parameter. Expected name query string '
            'parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. '
            'Got: "%s"' % value)
    operator, operand = value.split(':', 1)
    if operator == 'in':
        return operand.split(','), None
    if operator == 'startswith':
        return None, operand
    return None, None


def _associated_filter(value):
    lowered = value.lower()
    if lowered not in ('true', 'false'):
        raise errors.bad_request(
            'The query parameter "associated" only accepts "true" or '
            '"false"')
    return lowered == 'true'


def _last_modified(rows):
    return util.newest(*(util.row_modified(row) for row in rows))


def _trait_location(req, name):
    return util.absolute_url(req, '/traits/%s' % name)


def list_traits(req):
    util.require_version(req, TRAITS_MIN_VERSION)
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.TRAITS_LIST)
    params = util.validate_query(req, schema.LIST_TRAITS_QUERY)
    names = prefix = associated = None
    if 'name' in params:
        names, prefix = _name_filter(params['name'])
    if 'associated' in params:
        associated = _associated_filter(params['associated'])
    rows = trait_obj.get_all(ctx, names=names, prefix=prefix,
                             associated=associated)
    return util.json_response(req, {'traits': [row.name for row in rows]},
                              last_modified=_last_modified(rows))


def _trait_or_404(ctx, name):
    try:
        return trait_obj.get_by_name(ctx, name)
    except exception.TraitNotFound as exc:
        raise errors.not_found(str(exc))


def get_trait(req):
    util.require_version(req, TRAITS_MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.TRAITS_SHOW)
    row = _trait_or_404(ctx, util.path_arg(req, 'name'))
    resp = util.empty_response(204)
    util.set_cache_headers(req, resp, util.row_modified(row))
    return resp


def put_trait(req):
    util.require_version(req, TRAITS_MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.TRAITS_UPDATE)
    name = util.path_arg(req, 'name')
    if len(name) > 255 or not CUSTOM_TRAIT_RE.fullmatch(name):
        raise errors.bad_request(
            'The trait is invalid. A valid trait must be no longer than 255 '
            'characters, start with the prefix "CUSTOM_" and use following '
            'characters: "A"-"Z", "0"-"9" and "_"')
    try:
        row, created = trait_obj.ensure(ctx, name)
    except exception.ConcurrentUpdateDetected as exc:
        raise _trait_race(exc, name)
    resp = util.empty_response(
        201 if created else 204,
        headers=[('Location', _trait_location(req, name))])
    util.set_cache_headers(req, resp, util.row_modified(row))
    return resp


def delete_trait(req):
    util.require_version(req, TRAITS_MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.TRAITS_DELETE)
    name = util.path_arg(req, 'name')
    try:
        trait_obj.delete(ctx, name)
    except exception.TraitNotFound as exc:
        raise errors.not_found(str(exc))
    except trait_obj.TraitCannotDeleteStandard as exc:
        raise errors.bad_request(str(exc))
    except trait_obj.TraitInUse as exc:
        raise errors.conflict_of_kind(str(exc), 'trait_in_use', trait=name)
    except exception.ConcurrentUpdateDetected as exc:
        raise _trait_race(exc, name)
    return util.empty_response(204)


def _provider_traits(rows, generation):
    """(body, last modified) of a provider's trait set."""
    return ({'traits': [row.name for row in rows],
             'resource_provider_generation': generation},
            _last_modified(rows))


def _provider_traits_view(ctx, rp):
    return _provider_traits(trait_obj.get_for_provider(ctx, rp.id),
                            rp.generation)


def list_traits_for_resource_provider(req):
    util.require_version(req, TRAITS_MIN_VERSION)
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.RP_TRAITS_LIST)
    rp = util.provider_or_404(ctx, util.path_arg(req, 'uuid'))
    data, last_modified = _provider_traits_view(ctx, rp)
    return util.json_response(req, data, last_modified=last_modified,
                              etag=True)


def update_traits_for_resource_provider(req):
    """Replace the set: body → lookup → generation → unknown traits; the
    generation moves only if the set changes."""
    util.require_version(req, TRAITS_MIN_VERSION)
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.RP_TRAITS_UPDATE)
    body = util.extract_json(req.body, schema.SET_PROVIDER_TRAITS)
    with util.provider_write(ctx, util.path_arg(req, 'uuid'),
                             GENERATION_CHANGED) as write:
        rp = write.provider
        util.check_if_match(req, _provider_traits_view, ctx, rp)
        # Read with the provider; checked after the generation.
        rows, current = trait_obj.named_and_held(ctx, rp.id, body['traits'])
        write.expected = body['resource_provider_generation']
        if write.expected != rp.generation:
            raise _generation_conflict(ctx, rp, write.expected,
                                       rp.generation)
        missing = set(body['traits']) - set(row.name for row in rows)
        if missing:
            raise errors.bad_request('No such trait %s' %
                                     ', '.join(sorted(missing)))
        generation = trait_obj.set_for_provider(
            ctx, rp.id, write.expected, [row.id for row in rows],
            current=current)
    # The set this request made (a later writer's set would not match
    # the generation we report).
    data, last_modified = _provider_traits(rows, generation)
    return util.json_response(req, data, last_modified=last_modified)


def delete_traits_for_resource_provider(req):
    util.require_version(req, TRAITS_MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.RP_TRAITS_DELETE)
    with util.provider_write(ctx, util.path_arg(req, 'uuid'),
                             GENERATION_CHANGED) as write:
        rp = write.provider
        trait_obj.delete_for_provider(ctx, rp.id, rp.generation)
    return util.empty_response(204)
