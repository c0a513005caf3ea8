"""Provider aggregates: bare UUIDs (``placement_aggregates`` rows, created
on first use and never deleted) associated with providers."""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql
from placement import exception
from placement.objects import resource_provider as rp_obj

AGG = models.AGG
RP_AGG = models.RP_AGG


@db_api.context_manager.reader
def get_uuids(ctx, rp_id):
    """The provider's aggregate uuids in aggregate creation order."""
    return ctx.session.execute(
        sa.select(AGG.c.uuid).select_from(
            AGG.join(RP_AGG, RP_AGG.c.aggregate_id == AGG.c.id))
        .where(RP_AGG.c.resource_provider_id == rp_id)
        .order_by(AGG.c.id)).scalars().all()


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def ensure(ctx, uuids):
    """{uuid: id} for ``uuids``, creating missing aggregate rows (in the
    given order, so new ones list in that order). Its own transaction:
    call it before, not inside, the transaction that uses the ids. Racing
    creators of the same uuid both succeed (insert-or-ignore; a deadlock
    between them is retried)."""
    if not uuids:
        return {}
    conn = sql.connection(ctx)
    sql.insert_ignore(conn, 'placement_aggregates', ('uuid',),
                      [(u,) for u in uuids])
    # A locking read sees rows other transactions just committed, even
    # under MySQL's REPEATABLE READ snapshot.
    return _ids(conn, uuids, sql.for_update(conn, read=True))


def _ids_sql(count):
    return ('SELECT uuid, id FROM placement_aggregates WHERE uuid IN (' +
            sql.marks(count) + ')')


def _ids(conn, uuids, suffix=''):
    """{uuid: id} of the aggregates among ``uuids`` that exist."""
    wanted = sorted(uuids)
    return _as_asked(uuids, sql.execute(
        conn, _ids_sql(len(wanted)) + suffix, wanted).all())


def _as_asked(uuids, found):
    """{uuid: id} of ``uuids`` from the (uuid, id) rows ``found``."""
    found = dict(found)
    # MySQL compares case-insensitively: a uuid may exist in other case.
    folded = {u.lower(): agg_id for u, agg_id in found.items()}
    ids = {u: found.get(u, folded.get(u.lower())) for u in uuids}
    return {u: agg_id for u, agg_id in ids.items() if agg_id is not None}


def existing_and_held(ctx, rp_id, uuids):
    """In the caller's transaction, one round trip: {uuid: id} of the
    aggregates among ``uuids`` that exist (rows are never deleted, so
    what it finds stays valid), and the set of the provider's aggregate
    ids now. Read it after the provider's row lock
    (util.provider_write), as associated_ids."""
    conn = sql.connection(ctx)
    if not uuids:
        return {}, rp_obj.associated_ids(ctx, RP_AGG.c.aggregate_id, rp_id)
    wanted = sorted(uuids)
    # The provider's rows carry no uuid.
    rows = sql.execute(
        conn, _ids_sql(len(wanted)) + ' UNION ALL SELECT NULL, aggregate_id '
        'FROM resource_provider_aggregates WHERE resource_provider_id = %s',
        wanted + [rp_id]).all()
    return (_as_asked(uuids, [row for row in rows if row[0] is not None]),
            set(row[1] for row in rows if row[0] is None))


@exception.db_races_as_conflict()
@db_api.context_manager.writer
def replace_for_provider(ctx, rp_id, generation, agg_ids, current=None):
    """Make the aggregates ``agg_ids`` (existing rows) the provider's;
    the generation as for set_for_provider. In the caller's writer
    transaction, if any. ``current``, when given, is the provider's set
    of aggregate ids as the caller read it in this transaction after
    locking the provider row (util.provider_write, existing_and_held)."""
    if current is None:
        new_generation = rp_obj.bump_or_lock(ctx, rp_id, generation)
        current = rp_obj.associated_ids(ctx, RP_AGG.c.aggregate_id, rp_id)
    elif generation is not None:
        new_generation = rp_obj.increment_generation(ctx, rp_id, generation)
    else:
        # The caller holds the lock.
        new_generation = None
    rp_obj.replace_associations(ctx, RP_AGG.c.aggregate_id, rp_id, current,
                                set(agg_ids))
    return new_generation


@exception.db_races_as_conflict()
def set_for_provider(ctx, rp_id, uuids, generation=None):
    """Make ``uuids`` the provider's aggregates. With ``generation``
    (≥1.19) it is compare-and-set bumped (always, even if unchanged) in
    the same transaction; without, the provider row is only locked so
    concurrent replacements serialise. Returns the new generation (or
    None)."""
    ids = ensure(ctx, list(uuids))
    return replace_for_provider(ctx, rp_id, generation,
                                [ids[u] for u in uuids])
