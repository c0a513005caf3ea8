"""The reshaper: replace inventories of several providers and the
allocations of several consumers in one transaction.

Steps (each setting inventory bumps the provider generation once):
interim inventory (current ∪ new, for providers with a non-empty new
map), the allocation write shared with PUT/POST /allocations, final
inventory (exactly the new map). Inventory replacement is
objects/inventory.py's ``replace_all``, joined into our transaction.
"""

import sqlalchemy as sa

from placement.db import models
from placement import exception
from placement.objects import allocation as alloc_obj
from placement.objects import inventory as inv_obj
from placement.objects import resource_class as rc_obj

RP = models.RP


class ProviderNotFound(exception.NotFound):
    msg_fmt = 'Resource provider %(uuid)s in inventories not found.'


class ProviderGenerationConflict(exception.ConcurrentUpdateDetected):
    """The client's provider generation is not the current one."""

    def __init__(self, rp_uuid, actual, given):
        self.rp_uuid = rp_uuid
        self.actual = actual
        self.given = given
        super().__init__(
            'resource provider generation conflict for provider %s: '
            'actual: %s, given: %s' % (rp_uuid, actual, given))


class InventoryChange(object):
    """The requested inventory of one provider: {rc name: record}."""

    def __init__(self, rp_uuid, generation, inventories):
        self.rp_uuid = rp_uuid
        self.generation = generation
        self.inventories = inventories


def _reshape(ctx, changes, requests):
    providers = []
    for change in changes:
        rp = ctx.session.execute(
            sa.select(RP.c.id, RP.c.uuid, RP.c.generation)
            .where(RP.c.uuid == change.rp_uuid)).first()
        if rp is None:
            raise ProviderNotFound(uuid=change.rp_uuid)
        if rp.generation != change.generation:
            raise ProviderGenerationConflict(rp.uuid, rp.generation,
                                             change.generation)
        providers.append(rp)
    names = sorted({n for c in changes for n in c.inventories})
    rc_ids = rc_obj.ids_from_names(ctx, names)
    for name in names:
        if name not in rc_ids:
            raise exception.ResourceClassNotFound(name=name)
    records = [{rc_ids[n]: inv_obj.with_defaults(body)
                for n, body in c.inventories.items()} for c in changes]

    # Every compare-and-set below starts from the generation the client
    # sent (checked above) and follows our own bumps, never a re-read: on
    # READ COMMITTED a re-read would see (and silently accept) a change
    # committed after the check. A failed CAS retries the whole reshape,
    # whose next check then answers 409.
    generations = {rp.id: rp.generation for rp in providers}
    # Interim: old classes stay (allocations may still use them).
    for rp, new in zip(providers, records):
        if new:
            current = {row.resource_class_id: inv_obj.serialize(row)
                       for _name, row in inv_obj.get_all(ctx, rp.id)}
            current.update(new)
            generations[rp.id] = inv_obj.replace_all(
                ctx, rp, generations[rp.id], current)
    generations.update(alloc_obj.write_allocations(
        ctx, requests, known_generations=generations))
    for rp, new in zip(providers, records):
        generations[rp.id] = inv_obj.replace_all(
            ctx, rp, generations[rp.id], new)


def reshape(ctx, changes, requests):
    """Apply ``changes`` (InventoryChange list, body order) and
    ``requests`` (allocation.ConsumerRequest list) atomically."""
    alloc_obj.run_with_retries(ctx, _reshape, changes, requests)
