"""Usages: per provider (every inventoried class, 0 when unused) and per
project/user, optionally grouped by consumer type (1.38).

Every GROUP BY names exactly the non-aggregated selected columns, so
PostgreSQL accepts it (upstream's 1.38 query does not)."""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.objects import capacity
from placement.objects import consumer as consumer_obj
from placement.objects import resource_class as rc_obj

ALLOC = models.ALLOC
INV = models.INV
CONSUMER = models.CONSUMER
PROJECT = models.PROJECT
USER = models.USER
CONSUMER_TYPE = models.CONSUMER_TYPE

# ``consumer_type`` query values with a special meaning.
ALL = 'all'
UNKNOWN = consumer_obj.UNKNOWN_TYPE


@db_api.context_manager.reader
def provider_usages(ctx, rp_id):
    """{rc name: used} for every class provider ``rp_id`` has inventory
    of."""
    usage = capacity.usage_subquery()
    rows = ctx.session.execute(
        sa.select(INV.c.resource_class_id,
                  sa.func.coalesce(usage.c.used, 0).label('used'))
        .select_from(INV.outerjoin(usage, sa.and_(
            usage.c.resource_provider_id == INV.c.resource_provider_id,
            usage.c.resource_class_id == INV.c.resource_class_id)))
        .where(INV.c.resource_provider_id == rp_id)
        .order_by(INV.c.resource_class_id)).all()
    names = rc_obj.names_from_ids(ctx, {r.resource_class_id for r in rows})
    return {names[r.resource_class_id]: int(r.used) for r in rows}


def _consumers_of(project_id, user_id, consumer_type):
    """FROM/WHERE pieces selecting the allocations of the project's (and
    user's) consumers, filtered by ``consumer_type``."""
    joined = (ALLOC.join(CONSUMER, ALLOC.c.consumer_id == CONSUMER.c.uuid)
              .join(PROJECT, CONSUMER.c.project_id == PROJECT.c.id)
              .outerjoin(CONSUMER_TYPE,
                         CONSUMER.c.consumer_type_id == CONSUMER_TYPE.c.id))
    where = [PROJECT.c.external_id == project_id]
    if user_id is not None:
        joined = joined.join(USER, CONSUMER.c.user_id == USER.c.id)
        where.append(USER.c.external_id == user_id)
    if consumer_type == UNKNOWN:
        where.append(CONSUMER.c.consumer_type_id.is_(None))
    elif consumer_type not in (None, ALL):
        where.append(CONSUMER_TYPE.c.name == consumer_type)
    return joined, where


@db_api.context_manager.reader
def total_usages(ctx, project_id, user_id=None):
    """{rc name: used} over the consumers of the project (and user)."""
    joined, where = _consumers_of(project_id, user_id, ALL)
    rows = ctx.session.execute(
        sa.select(ALLOC.c.resource_class_id,
                  sa.func.sum(ALLOC.c.used).label('used'))
        .select_from(joined).where(*where)
        .group_by(ALLOC.c.resource_class_id)).all()
    names = rc_obj.names_from_ids(ctx, {r.resource_class_id for r in rows})
    return {names[r.resource_class_id]: int(r.used) for r in rows}


@db_api.context_manager.reader
def usages_by_consumer_type(ctx, project_id, user_id=None,
                            consumer_type=None):
    """{group: {"consumer_count": n, rc name: used}}; groups are type names
    (``unknown`` for untyped consumers), or the single group ``all`` /
    ``unknown`` when ``consumer_type`` asks for it."""
    joined, where = _consumers_of(project_id, user_id, consumer_type)
    if consumer_type in (ALL, UNKNOWN):
        group = sa.literal(consumer_type)
        group_by = []
    else:
        group = CONSUMER_TYPE.c.name
        group_by = [CONSUMER_TYPE.c.name]
    session = ctx.session
    # One statement for both, so counts and sums share a snapshot.
    sums = sa.select(
        group.label('grp'), ALLOC.c.resource_class_id.label('rc'),
        sa.func.sum(ALLOC.c.used).label('value'),
    ).select_from(joined).where(*where).group_by(
        *(group_by + [ALLOC.c.resource_class_id]))
    counts = sa.select(
        group.label('grp'), sa.literal(-1).label('rc'),
        sa.func.count(sa.distinct(CONSUMER.c.id)).label('value'),
    ).select_from(joined).where(*where)
    if group_by:
        counts = counts.group_by(*group_by)
    rows = session.execute(sa.union_all(sums, counts)).all()
    names = rc_obj.names_from_ids(ctx, {r.rc for r in rows if r.rc != -1})
    result = {}
    for row in rows:
        if row.rc == -1 and not row.value:
            continue  # count(*) over no rows
        entry = result.setdefault(row.grp or UNKNOWN, {})
        key = 'consumer_count' if row.rc == -1 else names[row.rc]
        entry[key] = int(row.value)
    return result
