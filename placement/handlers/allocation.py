"""Allocations: GET/PUT/DELETE /allocations/{consumer_uuid}, POST
/allocations, GET /resource_providers/{uuid}/allocations.

Every 409 carries, besides upstream's ``code`` and ``detail``, a
machine-readable ``conflict`` member (see notes/conflict-member.md).
"""

from placement import errors
from placement import exception
from placement import microversion
from placement.objects import allocation as alloc_obj
from placement.objects import consumer as consumer_obj
from placement.objects import resource_provider as rp_obj
from placement.policies import allocation as policies
from placement.schemas import allocation as schema
from placement import util

RACE_DETAIL = ('Inventory and/or allocations changed while attempting to '
               'allocate: Another thread concurrently updated the data. '
               'Please retry your update')


CONCURRENT_CONSUMER = (
    'consumer generation conflict - consumer %s was changed by a concurrent '
    'request while this one was writing (generation sent: %s, now: %s). '
    'Re-read the consumer and retry.')


def _null(generation):
    return 'null' if generation is None else generation


def _consumer_race(ctx, exc, requests):
    """The 409 for a consumer another request changed between our check
    and our write. ``current`` is re-read after the rollback, so it may
    equal what the client sent (the other writer has since been undone
    or deleted the consumer); then upstream's "expected X but got Y" would
    read "expected null but got None", so the detail says what happened
    instead, keeping the ``consumer generation conflict`` prefix clients
    match on."""
    current = consumer_obj.current_generation(ctx, exc.consumer_uuid)
    sent = next((r.generation for r in requests
                 if r.uuid == exc.consumer_uuid), alloc_obj.UNCHECKED)
    member = {'kind': 'consumer_generation', 'concurrent': True,
              'consumer_uuid': exc.consumer_uuid, 'current': current}
    if sent is alloc_obj.UNCHECKED:
        # Below 1.28 the client knows no generations.
        member['expected'] = exc.seen
        detail = RACE_DETAIL
    else:
        member['expected'] = sent
        if current != sent:
            detail = alloc_obj.CONSUMER_CONFLICT % (_null(current), sent)
        else:
            detail = CONCURRENT_CONSUMER % (
                exc.consumer_uuid, _null(sent), _null(current))
    return errors.conflict(detail, code=errors.CONCURRENT_UPDATE,
                           conflict=member)


def conflict_for(ctx, exc, requests):
    """The 409 for a concurrency or capacity failure of a claim, or None
    when ``exc`` is not one."""
    if isinstance(exc, alloc_obj.ConsumerGenerationConflict):
        return errors.conflict(
            str(exc), code=errors.CONCURRENT_UPDATE,
            conflict={'kind': 'consumer_generation',
                      'consumer_uuid': exc.consumer_uuid,
                      'expected': exc.sent, 'current': exc.current})
    if isinstance(exc, alloc_obj.ConsumerRace):
        return _consumer_race(ctx, exc, requests)
    if isinstance(exc, alloc_obj.RetriesExhausted):
        current = None
        if exc.rp_uuid is not None:
            current = alloc_obj.provider_generation(ctx, exc.rp_uuid)
        return errors.provider_generation_conflict(
            RACE_DETAIL, exc.rp_uuid, expected=exc.seen, current=current)
    if isinstance(exc, alloc_obj.InvalidAllocation):
        return errors.conflict_of_kind(
            'Unable to allocate inventory: %s' % exc, 'capacity',
            reason=exc.reason, resource_provider_uuid=exc.rp_uuid,
            resource_class=exc.rc_name, requested=exc.requested,
            used=exc.used, capacity=exc.capacity)
    return None


def write(req, requests, unknown_class_detail):
    """Run the claim and translate its failures; ``unknown_class_detail``
    formats the (endpoint-specific) unknown resource class 400."""
    ctx = util.context_of(req)
    try:
        alloc_obj.replace_all(ctx, requests)
    except exception.ResourceClassNotFound as exc:
        raise errors.bad_request(unknown_class_detail % exc)
    except alloc_obj.ProviderMissing as exc:
        raise errors.bad_request(str(exc))
    except exception.PlacementException as exc:
        error = conflict_for(ctx, exc, requests)
        if error is None:
            raise
        raise error


def _amounts(allocations):
    """{rp uuid: {rc: amount}} from the dict form of an allocation body."""
    allocations = util.normalize_uuid_keys(allocations)
    return {rp_uuid: dict(value['resources'])
            for rp_uuid, value in allocations.items()}


def _amounts_from_list(allocations):
    """{rp uuid: {rc: amount}} from the 1.0–1.11 list form (amounts for
    one provider and class add up)."""
    result = {}
    for item in allocations:
        rp_uuid = item['resource_provider']['uuid']
        resources = result.setdefault(
            util.normalize_uuid(rp_uuid) or rp_uuid, {})
        for rc_name, amount in item['resources'].items():
            resources[rc_name] = resources.get(rc_name, 0) + amount
            if resources[rc_name] > schema.MAX_AMOUNT:
                raise errors.bad_request(
                    'JSON does not validate: the amounts of %s for '
                    'resource provider %s add up to more than %d' %
                    (rc_name, rp_uuid, schema.MAX_AMOUNT))
    return result


def _malformed_consumer(value):
    return errors.bad_request('Malformed consumer_uuid: %s' % value)


def consumer_bodies(data):
    """{canonical consumer uuid: body} of a POST /allocations (or
    reshaper) ``allocations`` object; 400 for a key that is no UUID."""
    return util.normalize_uuid_keys(data, bad_key=_malformed_consumer)


def consumer_request(req, uuid, data, keep_empty=False):
    """A ConsumerRequest from one consumer's (validated) body object."""
    version = microversion.version_of(req)
    if version >= (1, 8):
        project_id, user_id = data['project_id'], data['user_id']
    else:
        conf = util.context_of(req).config.placement
        project_id = conf.incomplete_consumer_project_id
        user_id = conf.incomplete_consumer_user_id
    if version >= (1, 12):
        allocations = _amounts(data['allocations'])
    else:
        allocations = _amounts_from_list(data['allocations'])
    generation = alloc_obj.UNCHECKED
    if version >= (1, 28):
        generation = data['consumer_generation']
    consumer_type = data['consumer_type'] if version >= (1, 38) else None
    return alloc_obj.ConsumerRequest(
        uuid, project_id, user_id, allocations, generation=generation,
        consumer_type=consumer_type, keep_empty=keep_empty)


def list_for_consumer(req):
    """GET /allocations/{consumer_uuid}: unknown consumers are not an
    error (``{"allocations": {}}``)."""
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.LIST)
    data, last_modified = _consumer_view(
        req, ctx, util.path_arg(req, 'consumer_uuid'))
    return util.json_response(req, data, last_modified=last_modified,
                              etag=True)


def _consumer_view(req, ctx, uuid):
    """(body, last modified) of GET /allocations/{uuid}."""
    rows, names = alloc_obj.get_for_consumer(ctx, uuid)
    info = rows[0] if rows else None
    allocations = {}
    for row in rows:
        entry = allocations.setdefault(
            row.rp_uuid, {'generation': row.rp_generation, 'resources': {}})
        entry['resources'][names[row.resource_class_id]] = row.used
    data = {'allocations': allocations}
    version = microversion.version_of(req)
    if info is not None:
        if version >= (1, 12):
            data['project_id'] = info.project_id
            data['user_id'] = info.user_id
        if version >= (1, 28):
            data['consumer_generation'] = info.generation
        if version >= (1, 38):
            data['consumer_type'] = (info.consumer_type or
                                     consumer_obj.UNKNOWN_TYPE)
    return data, util.newest(*(util.row_modified(r) for r in rows))


def list_for_resource_provider(req):
    """GET /resource_providers/{uuid}/allocations."""
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.RP_ALLOC_LIST)
    uuid = util.path_arg(req, 'uuid')
    try:
        rp = rp_obj.get_by_uuid(ctx, uuid)
    except exception.ResourceProviderNotFound as exc:
        raise errors.not_found(
            "Resource provider '%s' not found: %s" % (uuid, exc))
    rows, names = alloc_obj.get_for_provider(ctx, rp.id)
    allocations = {}
    with_generation = microversion.is_at_least(req, (1, 28))
    for row in rows:
        entry = allocations.get(row.consumer_id)
        if entry is None:
            entry = allocations[row.consumer_id] = {'resources': {}}
            if with_generation:
                entry['consumer_generation'] = row.consumer_generation
        entry['resources'][names[row.resource_class_id]] = row.used
    data = {'resource_provider_generation': rp.generation,
            'allocations': allocations}
    last_modified = util.newest(*(util.row_modified(r) for r in rows))
    return util.json_response(req, data, last_modified=last_modified,
                              etag=True)


def set_allocations_for_consumer(req):
    """PUT /allocations/{consumer_uuid}: replace one consumer's
    allocations."""
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.UPDATE)
    raw_uuid = util.path_arg(req, 'consumer_uuid')
    uuid = util.normalize_uuid(raw_uuid)
    if uuid is None:
        raise _malformed_consumer(raw_uuid)
    util.check_if_match(req, _consumer_view, req, ctx, uuid)
    data = util.extract_json(req.body, schema.PUT_ALLOCATIONS.for_request(req))
    request = consumer_request(req, uuid, data, keep_empty=True)
    write(req, [request],
          'Unable to allocate inventory for consumer %s: %%s' % uuid)
    return util.empty_response(204)


def set_allocations(req):
    """POST /allocations (≥1.13): several consumers in one atomic write."""
    util.require_version(req, (1, 13))
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.MANAGE)
    data = util.extract_json(req.body,
                             schema.POST_ALLOCATIONS.for_request(req))
    requests = [consumer_request(req, uuid, value)
                for uuid, value in consumer_bodies(data).items()]
    write(req, requests, 'Unable to allocate inventory %s')
    return util.empty_response(204)


def delete_allocations(req):
    """DELETE /allocations/{consumer_uuid}: no generation check, no
    provider generation bump."""
    ctx = util.context_of(req)
    ctx.can(policies.DELETE)
    uuid = util.path_arg(req, 'consumer_uuid')
    try:
        alloc_obj.delete_for_consumer(ctx, uuid)
    except exception.NotFound as exc:
        raise errors.not_found(str(exc))
    except alloc_obj.RetriesExhausted as exc:
        raise conflict_for(ctx, exc, [])
    return util.empty_response(204)
