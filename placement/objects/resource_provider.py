"""Resource providers: lookup, trees, and the compare-and-set generation
update every provider-changing write goes through."""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement import exception

RP = models.RP


def _provider_select():
    parent = RP.alias('parent')
    root = RP.alias('root')
    return sa.select(
        RP.c.id, RP.c.uuid, RP.c.name, RP.c.generation,
        RP.c.parent_provider_id, RP.c.root_provider_id,
        RP.c.created_at, RP.c.updated_at,
        parent.c.uuid.label('parent_provider_uuid'),
        root.c.uuid.label('root_provider_uuid'),
    ).select_from(
        RP.outerjoin(parent, RP.c.parent_provider_id == parent.c.id)
          .outerjoin(root, RP.c.root_provider_id == root.c.id))


@db_api.context_manager.reader
def get_by_uuid(ctx, uuid):
    """The provider row (with parent/root uuids) or
    ResourceProviderNotFound."""
    row = ctx.session.execute(
        _provider_select().where(RP.c.uuid == uuid)).first()
    if row is None:
        raise exception.ResourceProviderNotFound()
    return row


def increment_generation(ctx, rp_id, expected_generation):
    """Compare-and-set ``generation = expected + 1`` in the caller's
    transaction; ResourceProviderConcurrentUpdateDetected when another
    writer got there first. Returns the new generation."""
    result = ctx.session.execute(
        sa.update(RP)
        .where(RP.c.id == rp_id)
        .where(RP.c.generation == expected_generation)
        .values(generation=expected_generation + 1))
    if result.rowcount != 1:
        raise exception.ResourceProviderConcurrentUpdateDetected()
    return expected_generation + 1
