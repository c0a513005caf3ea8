"""``placement-manage audit``: consistency checks over the whole database
(read-only), and the fix of what is safe to delete.

Nothing the API does should leave these behind, but capacity changes
(inventory lowered below usage), rows written by older services or by
hand, and interrupted migrations can. Only rows nothing refers to are
ever deleted (empty consumers, unused projects and users); everything
else is reported for an operator to decide.
"""

import collections

from oslo_db import api as oslo_db_api
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.objects import capacity as capacity_mod
from placement.objects import resource_class as rc_obj

ALLOC = models.ALLOC
CONSUMER = models.CONSUMER
INV = models.INV
PROJECT = models.PROJECT
RP = models.RP
USER = models.USER

# Report sections, in the order they are printed.
OVER_CAPACITY = 'over_capacity'
WITHOUT_INVENTORY = 'allocations_without_inventory'
EMPTY_CONSUMERS = 'empty_consumers'
WITHOUT_CONSUMER = 'allocations_without_consumer'
UNUSED_PROJECTS = 'unused_projects'
UNUSED_USERS = 'unused_users'
SECTIONS = collections.OrderedDict([
    (OVER_CAPACITY, 'Providers over capacity (usage above '
                    '(total - reserved) * allocation_ratio)'),
    (WITHOUT_INVENTORY, 'Allocations against a class the provider has no '
                        'inventory of'),
    (EMPTY_CONSUMERS, 'Consumers with no allocations'),
    (WITHOUT_CONSUMER, 'Allocations whose consumer row is missing'),
    (UNUSED_PROJECTS, 'Projects no consumer uses'),
    (UNUSED_USERS, 'Users no consumer uses'),
])
# What fix() deletes.
FIXABLE = (EMPTY_CONSUMERS, UNUSED_PROJECTS, UNUSED_USERS)


def _no_allocations():
    return ~sa.exists().where(ALLOC.c.consumer_id == CONSUMER.c.uuid)


def _unused(table, column):
    return ~sa.exists().where(column == table.c.id)


def _over_capacity(ctx):
    usage = capacity_mod.usage_subquery()
    rows = ctx.session.execute(
        sa.select(RP.c.uuid, INV.c.resource_class_id, INV.c.total,
                  INV.c.reserved, capacity_mod.ratio_column(), usage.c.used)
        .select_from(INV.join(usage, sa.and_(
            usage.c.resource_provider_id == INV.c.resource_provider_id,
            usage.c.resource_class_id == INV.c.resource_class_id))
            .join(RP, RP.c.id == INV.c.resource_provider_id))
        .where(usage.c.used > capacity_mod.capacity_expr())
        .order_by(RP.c.uuid, INV.c.resource_class_id)).all()
    return [{'resource_provider_uuid': r.uuid,
             'resource_class': r.resource_class_id, 'used': int(r.used),
             'capacity': capacity_mod.capacity(r.total, r.reserved,
                                               r.allocation_ratio),
             'total': r.total, 'reserved': r.reserved,
             'allocation_ratio': float(r.allocation_ratio)} for r in rows]


def _without_inventory(ctx):
    rows = ctx.session.execute(
        sa.select(RP.c.uuid, ALLOC.c.resource_provider_id,
                  ALLOC.c.resource_class_id, ALLOC.c.consumer_id,
                  ALLOC.c.used)
        .select_from(ALLOC.outerjoin(INV, sa.and_(
            INV.c.resource_provider_id == ALLOC.c.resource_provider_id,
            INV.c.resource_class_id == ALLOC.c.resource_class_id))
            .outerjoin(RP, RP.c.id == ALLOC.c.resource_provider_id))
        .where(INV.c.id.is_(None))
        .order_by(ALLOC.c.resource_provider_id, ALLOC.c.resource_class_id,
                  ALLOC.c.consumer_id)).all()
    # A provider row that is gone too shows as null (its id is kept).
    return [{'resource_provider_uuid': r.uuid,
             'resource_provider_id': r.resource_provider_id,
             'resource_class': r.resource_class_id,
             'consumer_uuid': r.consumer_id, 'used': r.used} for r in rows]


def _empty_consumers(ctx, uuids=None):
    query = (sa.select(CONSUMER.c.uuid, CONSUMER.c.generation)
             .where(_no_allocations()).order_by(CONSUMER.c.uuid))
    if uuids is not None:
        query = query.where(CONSUMER.c.uuid.in_(uuids))
    return [{'consumer_uuid': r.uuid, 'generation': r.generation}
            for r in ctx.session.execute(query)]


def _without_consumer(ctx):
    rows = ctx.session.execute(
        sa.select(ALLOC.c.consumer_id, sa.func.count().label('count'))
        .where(~sa.exists().where(CONSUMER.c.uuid == ALLOC.c.consumer_id))
        .group_by(ALLOC.c.consumer_id).order_by(ALLOC.c.consumer_id)).all()
    return [{'consumer_uuid': r.consumer_id, 'allocations': r.count}
            for r in rows]


def _unused_rows(ctx, table, column):
    rows = ctx.session.execute(
        sa.select(table.c.id, table.c.external_id)
        .where(_unused(table, column)).order_by(table.c.external_id)).all()
    return [{'id': r.id, 'external_id': r.external_id} for r in rows]


def _name_classes(ctx, findings):
    """Resource class ids to names, in place."""
    items = findings[OVER_CAPACITY] + findings[WITHOUT_INVENTORY]
    names = rc_obj.names_from_ids(ctx, {i['resource_class'] for i in items})
    for item in items:
        item['resource_class'] = names.get(item['resource_class'],
                                           item['resource_class'])


@db_api.context_manager.reader
def report(ctx):
    """{section: [finding, ...]} for every section of SECTIONS (one read
    transaction; writes nothing)."""
    findings = {
        OVER_CAPACITY: _over_capacity(ctx),
        WITHOUT_INVENTORY: _without_inventory(ctx),
        EMPTY_CONSUMERS: _empty_consumers(ctx),
        WITHOUT_CONSUMER: _without_consumer(ctx),
        UNUSED_PROJECTS: _unused_rows(ctx, PROJECT, CONSUMER.c.project_id),
        UNUSED_USERS: _unused_rows(ctx, USER, CONSUMER.c.user_id),
    }
    _name_classes(ctx, findings)
    return findings


def _lock_for_fix(ctx):
    """The fix's first statement: make it and the allocation writers
    that may be about to use a project, user or consumer row wait for one
    another.

    Every allocation writer starts with an insert-or-ignore of its project
    and user (consumer.ensure_references). On MySQL/MariaDB that insert
    holds a shared lock on the existing row's unique key until the writer
    commits, which our lock on that key (_delete_unused) waits for. On
    PostgreSQL ON CONFLICT DO NOTHING locks no row, so take a SHARE lock
    on both tables: it waits for every transaction that ran such an
    insert, and blocks new ones until we commit (they then create fresh
    rows). On SQLite a first write takes the database lock (before any
    read, so SQLite never has to upgrade a read lock)."""
    dialect = ctx.session.get_bind().dialect.name
    if dialect == 'postgresql':
        ctx.session.execute(sa.text('LOCK TABLE projects, users IN SHARE '
                                    'MODE'))
    elif dialect == 'sqlite':
        ctx.session.execute(sa.update(PROJECT).where(sa.false()).values(
            updated_at=PROJECT.c.updated_at))


def _locked_values(ctx, column, values):
    """The values of ``column`` among ``values`` as a locking read: under
    MySQL's REPEATABLE READ it sees the latest commits, not our snapshot
    (PostgreSQL's READ COMMITTED statement sees them anyway)."""
    return set(ctx.session.execute(
        sa.select(column).where(column.in_(values))
        .with_for_update(read=True)).scalars())


def _delete_empty_consumers(ctx, uuids):
    """Delete those of consumers ``uuids`` that still have no allocations.
    Their rows are locked first (a no-op UPDATE): writers compare-and-set
    the consumer row before they insert allocations, so after the lock
    every writer that got there first has committed, and every later one
    fails its compare-and-set once the row is gone."""
    uuids = sorted(set(uuids))
    if not uuids:
        return []
    ctx.session.execute(
        sa.update(CONSUMER).where(CONSUMER.c.uuid.in_(uuids))
        .values(updated_at=CONSUMER.c.updated_at))
    used = _locked_values(ctx, ALLOC.c.consumer_id, uuids)
    doomed = ctx.session.execute(
        sa.select(CONSUMER.c.uuid, CONSUMER.c.generation)
        .where(CONSUMER.c.uuid.in_(sorted(set(uuids) - used)))
        .order_by(CONSUMER.c.uuid).with_for_update()).all()
    if doomed:
        # Re-checked in the statement itself, whatever happened above.
        ctx.session.execute(
            sa.delete(CONSUMER)
            .where(CONSUMER.c.uuid.in_([r.uuid for r in doomed]))
            .where(_no_allocations()))
    return [{'consumer_uuid': r.uuid, 'generation': r.generation}
            for r in doomed]


def _delete_unused(ctx, table, column):
    """Delete the rows of ``table`` (projects or users) no consumer's
    ``column`` refers to; locked through their unique key (which writers'
    insert-or-ignore holds) before the locking re-check."""
    rows = _unused_rows(ctx, table, column)
    if not rows:
        return []
    ctx.session.execute(
        sa.select(table.c.id).where(table.c.external_id.in_(
            [r['external_id'] for r in rows])).with_for_update()).all()
    used = _locked_values(ctx, column, [r['id'] for r in rows])
    rows = [r for r in rows if r['id'] not in used]
    if rows:
        ctx.session.execute(
            sa.delete(table)
            .where(table.c.id.in_([r['id'] for r in rows]))
            .where(_unused(table, column)))
    return rows


def fix_in_transaction(ctx, consumer_uuids):
    """fix()'s work inside the caller's writer transaction."""
    _lock_for_fix(ctx)
    return {
        EMPTY_CONSUMERS: _delete_empty_consumers(ctx, consumer_uuids),
        UNUSED_PROJECTS: _delete_unused(ctx, PROJECT, CONSUMER.c.project_id),
        UNUSED_USERS: _delete_unused(ctx, USER, CONSUMER.c.user_id),
    }


@oslo_db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True)
@db_api.context_manager.writer
def fix(ctx, consumer_uuids):
    """In one transaction, delete the consumers among ``consumer_uuids``
    (the report's empty consumers) that still have no allocations, then
    every project and user row no consumer uses (including those the
    deleted consumers used). Returns {section: [deleted, ...]} for the
    FIXABLE sections."""
    return fix_in_transaction(ctx, consumer_uuids)
