"""``/resource_classes`` and ``/resource_classes/{name}`` (≥1.2): list,
show, create custom classes, rename (1.2–1.6) or create-or-verify (≥1.7),
delete."""

from placement import errors
from placement import exception
from placement import microversion
from placement.objects import resource_class as rc_obj
from placement.policies import resource_class as policies
from placement.schemas import resource_class as schema
from placement import util

MIN_VERSION = (1, 2)
PUT_CREATES_MIN_VERSION = (1, 7)


def _class_dict(req, name):
    return {'name': name,
            'links': [{'rel': 'self', 'href': util.relative_url(
                req, '/resource_classes/%s' % name)}]}


def _location(req, name):
    return [('Location',
             util.absolute_url(req, '/resource_classes/%s' % name))]


def _lookup(ctx, name):
    try:
        return rc_obj.get_by_name(ctx, name)
    except exception.ResourceClassNotFound as exc:
        raise errors.not_found(str(exc))


def list_resource_classes(req):
    util.require_version(req, MIN_VERSION)
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.LIST)
    rows = rc_obj.get_all(ctx)
    return util.json_response(
        req, {'resource_classes': [_class_dict(req, r.name) for r in rows]},
        last_modified=util.newest(*(util.row_modified(r) for r in rows)))


def get_resource_class(req):
    util.require_version(req, MIN_VERSION)
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.SHOW)
    row = _lookup(ctx, util.path_arg(req, 'name'))
    return util.json_response(req, _class_dict(req, row.name),
                              last_modified=util.row_modified(row))


def _race(exc, name):
    return errors.concurrent_update_conflict(str(exc), resource_class=name)


def _create(ctx, name):
    try:
        with exception.db_races_as_conflict():
            return rc_obj.ensure(ctx, name)
    except exception.ConcurrentUpdateDetected as exc:
        raise _race(exc, name)


def create_resource_class(req):
    util.require_version(req, MIN_VERSION)
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.CREATE)
    name = util.extract_json(req.body, schema.POST)['name']
    if not _create(ctx, name):
        raise errors.duplicate_conflict(
            'Conflicting resource class already exists: %s' % name,
            name=name)
    return util.empty_response(201, headers=_location(req, name))


def update_resource_class(req):
    util.require_version(req, MIN_VERSION)
    if microversion.is_at_least(req, PUT_CREATES_MIN_VERSION):
        return _create_or_verify(req)
    return _rename(req)


def _create_or_verify(req):
    """≥1.7: the body is ignored; 201 when created, 204 when it exists."""
    ctx = util.context_of(req)
    ctx.can(policies.UPDATE)
    name = util.path_arg(req, 'name')
    util.validate_body({'name': name}, schema.POST)
    status = 201 if _create(ctx, name) else 204
    return util.empty_response(status, headers=_location(req, name))


def _rename(req):
    """1.2–1.6: rename a custom class."""
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.UPDATE)
    new_name = util.extract_json(req.body, schema.PUT_RENAME)['name']
    old_name = util.path_arg(req, 'name')
    try:
        with exception.db_races_as_conflict():
            row = rc_obj.rename(ctx, old_name, new_name)
    except exception.ResourceClassNotFound as exc:
        raise errors.not_found(str(exc))
    except rc_obj.ResourceClassIsStandard:
        raise errors.bad_request(
            'Cannot update standard resource class %s' % old_name)
    except rc_obj.ResourceClassExists as exc:
        raise errors.duplicate_conflict(str(exc), name=new_name)
    except exception.ConcurrentUpdateDetected as exc:
        raise _race(exc, new_name)
    return util.json_response(req, _class_dict(req, row.name),
                              cache_headers=False)


def delete_resource_class(req):
    util.require_version(req, MIN_VERSION)
    ctx = util.context_of(req)
    ctx.can(policies.DELETE)
    name = util.path_arg(req, 'name')
    try:
        rc_obj.delete(ctx, name)
    except exception.ResourceClassNotFound as exc:
        raise errors.not_found(str(exc))
    except rc_obj.ResourceClassIsStandard:
        raise errors.bad_request(
            'Error in delete resource class: Cannot delete standard '
            'resource class %s.' % name)
    except rc_obj.ResourceClassInUse as exc:
        raise errors.conflict_of_kind(
            'Error in delete resource class: %s' % exc,
            'resource_class_in_use', resource_class=name)
    return util.empty_response(204)
