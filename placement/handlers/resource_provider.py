"""``/resource_providers`` and ``/resource_providers/{uuid}``: create,
list (with filters), show, update (rename, nesting, re-parenting) and
delete providers."""

import uuid as uuid_lib

from placement import errors
from placement import exception
from placement import microversion
from placement.objects import resource_provider as rp_obj
from placement.policies import resource_provider as policies
from placement import query_params
from placement.schemas import resource_provider as schema
from placement import util

# Microversion gates of this module.
NESTED_MIN_VERSION = (1, 14)          # parent/root in body, in_tree
POST_RETURNS_BODY_MIN_VERSION = (1, 20)
REPARENT_MIN_VERSION = (1, 37)

# (rel, path suffix, first version with that link)
_LINKS = (
    ('self', '', (1, 0)),
    ('inventories', '/inventories', (1, 0)),
    ('usages', '/usages', (1, 0)),
    ('aggregates', '/aggregates', (1, 1)),
    ('traits', '/traits', (1, 6)),
    ('allocations', '/allocations', (1, 11)),
)


def provider_dict(req, row):
    """The provider representation at the request's microversion."""
    version = microversion.version_of(req)
    base = '/resource_providers/%s' % row.uuid
    data = {
        'uuid': row.uuid,
        'name': row.name,
        'generation': row.generation,
        'links': [{'rel': rel, 'href': util.relative_url(req, base + path)}
                  for rel, path, since in _LINKS if version >= since],
    }
    if version >= NESTED_MIN_VERSION:
        data['parent_provider_uuid'] = row.parent_provider_uuid
        data['root_provider_uuid'] = row.root_provider_uuid
    return data


def _conflict(exc):
    return errors.duplicate_conflict(str(exc), name=exc.name, uuid=exc.uuid,
                                     code=errors.DUPLICATE_NAME)


def _concurrent(exc, uuid):
    return errors.concurrent_update_conflict(str(exc),
                                             resource_provider_uuid=uuid)


def create_resource_provider(req):
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.CREATE)
    data = util.extract_json(req.body, schema.POST.for_request(req))
    uuid = util.normalize_uuid(data['uuid']) if 'uuid' in data else str(
        uuid_lib.uuid4())
    name = data['name']
    parent_uuid = util.normalize_uuid(data.get('parent_provider_uuid'))
    prefix = 'Unable to create resource provider "%s", %s: ' % (name, uuid)
    if parent_uuid is not None and parent_uuid == uuid:
        raise errors.bad_request(prefix + rp_obj.PARENT_IS_SELF)
    try:
        with exception.db_races_as_conflict():
            row = rp_obj.create(ctx, uuid, name, parent_uuid)
    except rp_obj.DuplicateProvider as exc:
        raise _conflict(exc)
    except exception.ConcurrentUpdateDetected as exc:
        raise _concurrent(exc, uuid)
    except rp_obj.InvalidParent as exc:
        raise errors.bad_request(prefix + str(exc))
    location = util.absolute_url(req, '/resource_providers/%s' % uuid)
    if microversion.is_at_least(req, POST_RETURNS_BODY_MIN_VERSION):
        resp = util.json_response(req, provider_dict(req, row),
                                  last_modified=util.row_modified(row))
        resp.location = location
        return resp
    return util.empty_response(201, headers=[('Location', location)])


def get_resource_provider(req):
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.SHOW)
    row = util.provider_or_404(ctx, util.path_arg(req, 'uuid'))
    return util.json_response(req, provider_dict(req, row),
                              last_modified=util.row_modified(row),
                              etag=True)


def update_resource_provider(req):
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.UPDATE)
    uuid = util.path_arg(req, 'uuid')
    before = util.provider_or_404(ctx, uuid)
    data = util.extract_json(req.body, schema.PUT.for_request(req))
    parent_uuid = rp_obj.update_keeps_parent()
    if 'parent_provider_uuid' in data:
        parent_uuid = util.normalize_uuid(data['parent_provider_uuid'])
    try:
        with exception.db_races_as_conflict():
            row = rp_obj.update(
                ctx, before.uuid, data['name'], parent_uuid,
                allow_reparent=microversion.is_at_least(
                    req, REPARENT_MIN_VERSION))
    except rp_obj.DuplicateProvider as exc:
        raise _conflict(exc)
    except rp_obj.InvalidParent as exc:
        raise errors.bad_request('Unable to save resource provider %s: %s' %
                                 (uuid, exc))
    except exception.ConcurrentUpdateDetected as exc:
        raise _concurrent(exc, before.uuid)
    except exception.ResourceProviderNotFound:
        raise errors.not_found(
            'No resource provider with uuid %s found' % uuid)
    # Upstream reports the provider's previous modification time.
    return util.json_response(req, provider_dict(req, row),
                              last_modified=util.row_modified(before))


def delete_resource_provider(req):
    ctx = util.context_of(req)
    ctx.can(policies.DELETE)
    uuid = util.path_arg(req, 'uuid')
    try:
        with exception.db_races_as_conflict():
            rp_obj.delete(ctx, uuid)
    except exception.ResourceProviderNotFound:
        raise errors.not_found(
            'No resource provider with uuid %s found for delete' % uuid)
    except rp_obj.ProviderHasChildren as exc:
        raise errors.conflict_of_kind(
            str(exc), 'provider_has_children',
            code=errors.PROVIDER_CANNOT_DELETE_PARENT,
            resource_provider_uuid=exc.kwargs['uuid'])
    except rp_obj.ProviderInUse as exc:
        raise errors.conflict_of_kind(
            str(exc), 'provider_in_use', code=errors.PROVIDER_IN_USE,
            resource_provider_uuid=exc.kwargs['uuid'])
    except exception.ConcurrentUpdateDetected as exc:
        raise _concurrent(exc, uuid)
    return util.empty_response(204)


def _list_filters(req, ctx, params):
    """ListFilters from the validated query string (400s per spec)."""
    version = microversion.version_of(req)
    filters = rp_obj.ListFilters(
        name=params.get('name'),
        uuid=util.normalize_uuid(params.get('uuid')),
        in_tree=util.normalize_uuid(params.get('in_tree')))
    if 'member_of' in params:
        member_of = query_params.parse_member_of(
            req.GET.getall('member_of'), version)
        filters.member_of = member_of.any_of
        filters.forbidden_aggs = member_of.forbidden
    if 'resources' in params:
        amounts = query_params.parse_resources(None, params['resources'])
        ids = query_params.check_resource_classes_exist(ctx, amounts)
        filters.resources = {ids[name]: amount
                             for name, amount in amounts.items()}
    if 'required' in params:
        traits = query_params.parse_required(
            req.GET.getall('required'), version)
        ids = query_params.check_traits_exist(
            ctx, traits, prefix=query_params.RP_LIST_TRAIT_PREFIX)
        filters.required = [{ids[name] for name in term}
                            for term in traits.any_of]
        filters.forbidden_traits = {ids[name] for name in traits.forbidden}
    return filters


def list_resource_providers(req):
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.LIST)
    params = util.validate_query(req, schema.LIST.for_request(req))
    rows = rp_obj.list_providers(ctx, _list_filters(req, ctx, params))
    last_modified = util.newest(*(util.row_modified(r) for r in rows))
    return util.json_response(
        req, {'resource_providers': [provider_dict(req, r) for r in rows]},
        last_modified=last_modified, etag='in_tree' in params)
