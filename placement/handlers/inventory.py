"""``/resource_providers/{uuid}/inventories[/{resource_class}]``: a
provider's inventory records, one per resource class."""

import webob.exc

from placement import errors
from placement import exception
from placement import microversion
from placement.objects import inventory as inv_obj
from placement.objects import resource_class as rc_obj
from placement.policies import inventory as policies
from placement.schemas import inventory as schema
from placement import util

GENERATION_CONFLICT = 'resource provider generation conflict'
# From 1.26 reserved may equal total (capacity 0 is allowed).
ZERO_CAPACITY_MIN_VERSION = (1, 26)


def _collection_path(uuid):
    return '/resource_providers/%s/inventories' % uuid


def _record(row, generation):
    data = inv_obj.serialize(row)
    data['resource_provider_generation'] = generation
    return data


def _collection(generation, named_rows):
    return {
        'resource_provider_generation': generation,
        'inventories': {name: inv_obj.serialize(row)
                        for name, row in named_rows},
    }


def _check_generation(rp, generation):
    if generation != rp.generation:
        raise errors.provider_generation_conflict(
            GENERATION_CONFLICT, rp.uuid, expected=generation,
            current=rp.generation)


def check_storable_ratios(records):
    """400 for an ``allocation_ratio`` below the lowest value the column
    stores (a single-precision FLOAT on MySQL). The schema has no minimum
    (upstream's), and the reshaper has no capacity rule to catch it."""
    for record in records:
        ratio = record.get('allocation_ratio', 1.0)
        if ratio < -schema.MAX_FLOAT:
            raise errors.bad_request(
                'JSON does not validate: allocation_ratio %r is less than '
                '%r, the lowest the database stores' %
                (ratio, -schema.MAX_FLOAT))


def _check_capacity(req, rp, rc_name, record, action):
    """The capacity rule: 400 when capacity ≤ 0 (<1.26) or < 0 (≥1.26),
    in upstream's words (clients print them)."""
    capacity = inv_obj.capacity(record['total'], record['reserved'],
                                record['allocation_ratio'])
    if microversion.is_at_least(req, ZERO_CAPACITY_MIN_VERSION):
        bad, relation = capacity < 0, 'greater than'
    else:
        bad, relation = capacity <= 0, 'greater than or equal to'
    if bad:
        raise errors.bad_request(
            "Unable to %s inventory for resource provider %s: Invalid "
            "inventory for '%s' on resource provider '%s'. The reserved "
            "value is %s total." % (
                action, rp.uuid, rc_name, rp.uuid, relation))
    # Only a zero capacity gets here with a negative ratio.
    check_storable_ratios([record])


def _in_use(rp, exc, prefix, code):
    return errors.inventory_in_use_conflict(
        '%s: %s' % (prefix, exc), rp.uuid, exc.resource_class_names, code)


def _start(req, action):
    """The gates every reading handler shares after its own: policy,
    then the provider lookup (404). Returns (context, provider row)."""
    ctx = util.context_of(req)
    ctx.can(action)
    return ctx, util.provider_or_404(ctx, util.path_arg(req, 'uuid'))


def _write(req, action):
    """The gates every writing handler shares after its own: policy,
    then one transaction for the provider lookup (404) and the write
    (util.provider_write). Returns (context, its context manager)."""
    ctx = util.context_of(req)
    ctx.can(action)
    return ctx, util.provider_write(ctx, util.path_arg(req, 'uuid'),
                                    GENERATION_CONFLICT, with_cause=True)


def _collection_view(ctx, rp):
    """(body, last modified) of GET .../inventories."""
    named_rows = inv_obj.get_all(ctx, rp.id)
    return _collection(rp.generation, named_rows), util.newest(
        *(util.row_modified(row) for _name, row in named_rows))


def _record_view(ctx, rp, rc_name):
    """(body, last modified) of GET .../inventories/{rc}, or None."""
    row = None
    rc_id = rc_obj.ids_from_names(ctx, [rc_name]).get(rc_name)
    if rc_id is not None:
        row = inv_obj.get_one(ctx, rp.id, rc_id)
    if row is None:
        return None
    return _record(row, rp.generation), util.row_modified(row)


def get_inventories(req):
    util.check_accept(req)
    ctx, rp = _start(req, policies.LIST)
    data, last_modified = _collection_view(ctx, rp)
    return util.json_response(req, data, last_modified=last_modified,
                              etag=True)


def get_inventory(req):
    util.check_accept(req)
    ctx, rp = _start(req, policies.SHOW)
    rc_name = util.path_arg(req, 'resource_class')
    view = _record_view(ctx, rp, rc_name)
    if view is None:
        raise errors.not_found(
            'No inventory of class %s for %s' % (rc_name, rp.uuid))
    return util.json_response(req, view[0], last_modified=view[1],
                              etag=True)


def create_inventory(req):
    util.check_content_type(req)
    ctx, writing = _write(req, policies.CREATE)
    with writing as write:
        rp = write.provider
        body = util.extract_json(req.body, schema.POST_INVENTORY)
        record = inv_obj.with_defaults(body)
        rc_name = body['resource_class']
        _check_capacity(req, rp, rc_name, record, 'create')
        try:
            rc_id = rc_obj.id_from_name(ctx, rc_name)
        except exception.ResourceClassNotFound as exc:
            raise errors.bad_request(
                'Unable to create inventory for resource provider %s: %s' %
                (rp.uuid, exc))
        try:
            generation = inv_obj.add(ctx, rp, rp.generation, rc_id, record,
                                     rc_name=rc_name)
        except inv_obj.InventoryExists as exc:
            raise write.conflict('Update conflict: %s' % exc)
    record['resource_provider_generation'] = generation
    resp = util.json_response(req, record, status=201)
    resp.location = util.absolute_url(
        req, '%s/%s' % (_collection_path(rp.uuid), rc_name))
    return resp


def set_inventories(req):
    """Replace the whole set. Checks in the spec's order: generation,
    capacity, unknown classes, then (at write) in-use and races."""
    util.check_content_type(req)
    ctx, writing = _write(req, policies.UPDATE)
    with writing as write:
        rp = write.provider
        util.check_if_match(req, _collection_view, ctx, rp)
        body = util.extract_json(req.body, schema.PUT_INVENTORIES)
        write.expected = body['resource_provider_generation']
        _check_generation(rp, write.expected)
        records = {name: inv_obj.with_defaults(value)
                   for name, value in body['inventories'].items()}
        for name, record in records.items():
            _check_capacity(req, rp, name, record, 'update')
        ids = rc_obj.ids_from_names(ctx, list(records))
        unknown = [name for name in records if name not in ids]
        if unknown:
            # The first unknown class in the body's order, as upstream
            # says.
            raise errors.bad_request(
                'Unknown resource class in inventory for resource provider '
                '%s: No such resource class %s.' % (rp.uuid, unknown[0]))
        try:
            generation = inv_obj.replace_all(
                ctx, rp, write.expected,
                {ids[name]: record for name, record in records.items()})
        except inv_obj.InventoryInUse as exc:
            # Exactly this text: nova's report client matches it.
            raise _in_use(rp, exc, 'update conflict', errors.INVENTORY_INUSE)
        except inv_obj.InventoryExists as exc:
            raise write.conflict('%s: %s' % (GENERATION_CONFLICT, exc))
    return util.json_response(
        req, {'resource_provider_generation': generation,
              'inventories': records})


def update_inventory(req):
    util.check_content_type(req)
    ctx, writing = _write(req, policies.UPDATE)
    with writing as write:
        rp = write.provider
        rc_name = util.path_arg(req, 'resource_class')
        util.check_if_match(req, _record_view, ctx, rp, rc_name)
        body = util.extract_json(req.body, schema.PUT_INVENTORY_RECORD)
        write.expected = body['resource_provider_generation']
        _check_generation(rp, write.expected)
        record = inv_obj.with_defaults(body)
        _check_capacity(req, rp, rc_name, record, 'update')
        try:
            rc_id = rc_obj.id_from_name(ctx, rc_name)
        except exception.ResourceClassNotFound as exc:
            raise errors.not_found(str(exc))
        try:
            generation = inv_obj.update_one(ctx, rp, write.expected, rc_id,
                                            record)
        except inv_obj.InventoryNotFound:
            raise errors.bad_request(
                'No inventory record with resource class for resource '
                'provider %s: %s' % (rp.uuid, rc_name))
    record['resource_provider_generation'] = generation
    return util.json_response(req, record)


def delete_inventory(req):
    ctx, writing = _write(req, policies.DELETE)
    with writing as write:
        rp = write.provider
        rc_name = util.path_arg(req, 'resource_class')
        not_found = errors.not_found(
            'No inventory of class %s found for delete: resource provider '
            '%s has none' % (rc_name, rp.uuid))
        rc_id = rc_obj.ids_from_names(ctx, [rc_name]).get(rc_name)
        if rc_id is None:
            raise not_found
        try:
            inv_obj.delete_one(ctx, rp, rp.generation, rc_id)
        except inv_obj.InventoryNotFound:
            raise not_found
        except inv_obj.InventoryInUse as exc:
            # Upstream's quirk: concurrent_update, not inventory.inuse.
            raise _in_use(rp, exc, 'Unable to delete inventory of class '
                          '%s' % rc_name, errors.CONCURRENT_UPDATE)
    return util.empty_response(204)


def delete_inventories(req):
    util.require_version(req, (1, 5), status=webob.exc.HTTPMethodNotAllowed)
    ctx, writing = _write(req, policies.DELETE)
    with writing as write:
        rp = write.provider
        try:
            inv_obj.delete_all(ctx, rp, rp.generation)
        except inv_obj.InventoryInUse as exc:
            raise _in_use(rp, exc, 'Unable to delete inventory for resource '
                          'provider %s' % rp.uuid, errors.INVENTORY_INUSE)
    return util.empty_response(204)
