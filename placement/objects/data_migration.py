"""Online data migrations run by ``placement-manage db
online_data_migrations``: each takes a batch size and returns
(found, done)."""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models


@db_api.context_manager.writer
def set_root_provider_ids(ctx, batch_size):
    """Give every provider lacking ``root_provider_id`` its own id."""
    rp = models.RP
    ids = ctx.session.execute(
        sa.select(rp.c.id).where(rp.c.root_provider_id.is_(None))
        .order_by(rp.c.id).limit(batch_size)).scalars().all()
    if ids:
        ctx.session.execute(
            sa.update(rp).where(rp.c.id.in_(ids))
            .values(root_provider_id=rp.c.id))
    return len(ids), len(ids)


def _external_id_row(ctx, table, external_id):
    db_api.insert_ignore_duplicates(ctx.session, table,
                                    [{'external_id': external_id}])
    return ctx.session.execute(
        sa.select(table.c.id).where(table.c.external_id == external_id)
    ).scalar_one()


@db_api.context_manager.writer
def create_incomplete_consumers(ctx, batch_size):
    """Create ``consumers`` rows for allocations that have none, owned by
    the configured incomplete-consumer project and user."""
    alloc, consumer = models.ALLOC, models.CONSUMER
    missing = ctx.session.execute(
        sa.select(alloc.c.consumer_id).distinct()
        .select_from(alloc.outerjoin(
            consumer, alloc.c.consumer_id == consumer.c.uuid))
        .where(consumer.c.id.is_(None))
        .order_by(alloc.c.consumer_id).limit(batch_size)).scalars().all()
    if not missing:
        return 0, 0
    placement_conf = ctx.config.placement
    project_id = _external_id_row(
        ctx, models.PROJECT, placement_conf.incomplete_consumer_project_id)
    user_id = _external_id_row(
        ctx, models.USER, placement_conf.incomplete_consumer_user_id)
    db_api.insert_ignore_duplicates(ctx.session, consumer, [
        {'uuid': uuid, 'project_id': project_id, 'user_id': user_id,
         'generation': 0} for uuid in missing])
    return len(missing), len(missing)


@db_api.context_manager.reader
def count_missing_root_ids(ctx):
    return ctx.session.execute(
        sa.select(sa.func.count()).select_from(models.RP)
        .where(models.RP.c.root_provider_id.is_(None))).scalar()


@db_api.context_manager.reader
def count_incomplete_consumers(ctx):
    alloc, consumer = models.ALLOC, models.CONSUMER
    return ctx.session.execute(
        sa.select(sa.func.count(sa.distinct(alloc.c.consumer_id)))
        .select_from(alloc.outerjoin(
            consumer, alloc.c.consumer_id == consumer.c.uuid))
        .where(consumer.c.id.is_(None))).scalar()


# In the order they must run.
ONLINE_MIGRATIONS = (
    set_root_provider_ids,
    create_incomplete_consumers,
)
