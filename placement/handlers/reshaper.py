"""POST /reshaper (1.30): move inventory and the allocations using it
between providers atomically."""

from placement import errors
from placement import exception
from placement.handlers import allocation as alloc_handler
from placement.handlers import inventory as inv_handler
from placement.objects import allocation as alloc_obj
from placement.objects import inventory as inv_obj
from placement.objects import reshaper as reshaper_obj
from placement.policies import reshaper as policies
from placement.schemas import reshaper as schema
from placement import util


def _error(ctx, exc, requests):
    """The HTTP error for a failed reshape."""
    if isinstance(exc, reshaper_obj.ProviderNotFound):
        return errors.bad_request(
            str(exc), code=errors.RESOURCE_PROVIDER_NOT_FOUND)
    if isinstance(exc, reshaper_obj.ProviderGenerationConflict):
        return errors.provider_generation_conflict(
            str(exc), exc.rp_uuid, expected=exc.given, current=exc.actual)
    if isinstance(exc, exception.ResourceClassNotFound):
        return errors.bad_request('malformed reshaper data: %s' % exc)
    if isinstance(exc, alloc_obj.ProviderMissing):
        return errors.bad_request(str(exc))
    if isinstance(exc, inv_obj.InventoryInUse):
        # Exactly the text of PUT inventories (nova matches it).
        return errors.inventory_in_use_conflict(
            'update conflict: %s' % exc, exc.kwargs['resource_provider'],
            exc.resource_class_names, code=errors.INVENTORY_INUSE)
    error = alloc_handler.conflict_for(ctx, exc, requests)
    if error is None and isinstance(exc, exception.ConcurrentUpdateDetected):
        error = errors.provider_generation_conflict(
            alloc_handler.RACE_DETAIL, getattr(exc, 'rp_uuid', None))
    return error


def reshape(req):
    util.require_version(req, (1, 30))
    util.check_content_type(req)
    ctx = util.context_of(req)
    ctx.can(policies.RESHAPE)
    data = util.extract_json(req.body, schema.POST_RESHAPER.for_request(req))
    for body in data['inventories'].values():
        inv_handler.check_storable_ratios(body['inventories'].values())
    changes = [reshaper_obj.InventoryChange(
        rp_uuid, body['resource_provider_generation'], body['inventories'])
        for rp_uuid, body in util.normalize_uuid_keys(
            data['inventories']).items()]
    requests = [alloc_handler.consumer_request(req, uuid, value)
                for uuid, value in alloc_handler.consumer_bodies(
                    data['allocations']).items()]
    try:
        reshaper_obj.reshape(ctx, changes, requests)
    except exception.PlacementException as exc:
        error = _error(ctx, exc, requests)
        if error is None:
            raise
        raise error
    return util.empty_response(204)
