"""Consumers and the project/user/consumer-type rows they point at.

Every function here runs inside the caller's transaction (``ctx.session``):
a claim ensures its projects, users and types, reads and writes its
consumers in the same transaction that writes the allocations, so a
failed write rolls everything back and no cleanup is ever needed.
"""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models

CONSUMER = models.CONSUMER
PROJECT = models.PROJECT
USER = models.USER
CONSUMER_TYPE = models.CONSUMER_TYPE

# The name GET shows (and /usages groups under) for untyped consumers.
UNKNOWN_TYPE = 'unknown'


def ensure_references(ctx, projects, users, types):
    """Ensure project, user and consumer-type rows race-free and return
    three {external id or name: id} maps.

    Every insert-ignore runs before the first select: on MySQL the
    transaction's snapshot starts at its first read, and a row another
    transaction committed while our insert waited on it must be in that
    snapshot."""
    wanted = [(PROJECT, 'external_id', projects), (USER, 'external_id', users),
              (CONSUMER_TYPE, 'name', types)]
    wanted = [(table, column, sorted(set(n for n in names if n is not None)))
              for table, column, names in wanted]
    for table, column, names in wanted:
        if names:
            db_api.insert_ignore_duplicates(
                ctx.session, table, [{column: name} for name in names])
    maps = []
    for table, column, names in wanted:
        col = table.c[column]
        maps.append(dict(ctx.session.execute(
            sa.select(col, table.c.id).where(col.in_(names))).all())
            if names else {})
    return tuple(maps)


def get_by_uuids(ctx, uuids):
    """{uuid: consumer row} for the consumers among ``uuids`` that exist."""
    if not uuids:
        return {}
    rows = ctx.session.execute(
        sa.select(CONSUMER.c.id, CONSUMER.c.uuid, CONSUMER.c.generation,
                  CONSUMER.c.project_id, CONSUMER.c.user_id,
                  CONSUMER.c.consumer_type_id)
        .where(CONSUMER.c.uuid.in_(sorted(set(uuids)))))
    return {row.uuid: row for row in rows}


@db_api.context_manager.reader
def current_generation(ctx, uuid):
    """The stored generation of consumer ``uuid`` or None (fresh read, used
    to describe a lost race)."""
    return ctx.session.execute(
        sa.select(CONSUMER.c.generation).where(CONSUMER.c.uuid == uuid)
    ).scalar()


def insert(ctx, uuid, project_id, user_id, consumer_type_id, generation):
    """Create a consumer row; a concurrent creator of the same uuid makes
    this raise oslo.db's DBDuplicateEntry."""
    ctx.session.execute(sa.insert(CONSUMER).values(
        uuid=uuid, project_id=project_id, user_id=user_id,
        consumer_type_id=consumer_type_id, generation=generation))


def compare_and_set(ctx, consumer_id, seen_generation, **values):
    """``generation = seen + 1`` (plus ``values``) only if nobody changed
    or deleted the consumer since we read it; False if someone did."""
    result = ctx.session.execute(
        sa.update(CONSUMER)
        .where(CONSUMER.c.id == consumer_id)
        .where(CONSUMER.c.generation == seen_generation)
        .values(generation=seen_generation + 1, **values))
    return result.rowcount == 1


def compare_and_delete(ctx, consumer_id, seen_generation):
    """Delete the consumer only if it is still at ``seen_generation``."""
    result = ctx.session.execute(
        sa.delete(CONSUMER)
        .where(CONSUMER.c.id == consumer_id)
        .where(CONSUMER.c.generation == seen_generation))
    return result.rowcount == 1


def delete_by_uuid(ctx, uuid):
    """Delete consumer ``uuid`` (taking its row lock first so allocation
    writers racing with us either finish before or fail their CAS)."""
    ctx.session.execute(sa.delete(CONSUMER).where(CONSUMER.c.uuid == uuid))
