"""Set-based database reads for allocation candidates.

A handful of queries, never one per provider:

* ``root_scan`` pages through the roots of trees that can possibly
  satisfy the request (necessary conditions evaluated in SQL with
  correlated EXISTS, so a LIMIT stops the scan early);
* ``load_trees`` reads providers, inventories with usage, traits and
  aggregates of whole trees at once;
* ``sharing_provider_roots`` finds sharing providers that could lend a
  requested class.
"""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.objects import candidate_engine as engine
from placement.objects import inventory as inv_obj

RP = models.RP
INV = models.INV
ALLOC = models.ALLOC
TRAIT = models.TRAIT
RP_TRAIT = models.RP_TRAIT
AGG = models.AGG
RP_AGG = models.RP_AGG

SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'
# Keep IN lists well below every backend's bound-parameter limit.
MAX_IN = 500


def _used(inv):
    """Correlated current usage of the inventory row ``inv``."""
    return sa.select(sa.func.coalesce(sa.func.sum(ALLOC.c.used), 0)).where(
        ALLOC.c.resource_provider_id == inv.c.resource_provider_id,
        ALLOC.c.resource_class_id == inv.c.resource_class_id,
    ).correlate_except(ALLOC).scalar_subquery()


def fits_clause(p, rc, amount, exact=True):
    """Provider ``p`` has room for ``amount`` of ``rc`` (and, when
    ``exact``, the amount respects min_unit/max_unit/step_size)."""
    inv = INV.alias()
    conds = [inv.c.resource_provider_id == p.c.id,
             inv.c.resource_class_id == rc,
             _used(inv) + amount <= inv_obj.capacity_expr(inv)]
    if exact:
        conds += [inv.c.min_unit <= amount, inv.c.max_unit >= amount,
                  sa.literal(amount) % inv.c.step_size == 0]
    return sa.select(1).select_from(inv).where(*conds).correlate_except(
        inv).exists()


def has_trait_clause(p, trait_ids):
    t = RP_TRAIT.alias()
    return sa.select(1).select_from(t).where(
        t.c.resource_provider_id == p.c.id,
        t.c.trait_id.in_(sorted(trait_ids))).correlate_except(t).exists()


def in_aggs_clause(p, agg_ids):
    a = RP_AGG.alias()
    return sa.select(1).select_from(a).where(
        a.c.resource_provider_id == p.c.id,
        a.c.aggregate_id.in_(sorted(agg_ids))).correlate_except(a).exists()


def tree_has(root, build):
    """Some provider of ``root``'s tree satisfies ``build(p)``'s
    conditions (a list)."""
    p = RP.alias()
    return sa.select(1).select_from(p).where(
        p.c.root_provider_id == root.c.id, *build(p)).correlate_except(
        p).exists()


def is_nested(ctx):
    """Does any provider have a parent?"""
    return ctx.session.execute(sa.select(
        sa.select(1).select_from(RP).where(
            RP.c.parent_provider_id.is_not(None)).exists())).scalar()


def classes_available(ctx, min_amounts):
    """Does some provider anywhere have room for each (rc, amount)?"""
    if not min_amounts:
        return True
    exprs = []
    for rc, amount in sorted(min_amounts.items()):
        inv = INV.alias()
        exprs.append(sa.select(1).select_from(inv).where(
            inv.c.resource_class_id == rc,
            _used(inv) + amount <= inv_obj.capacity_expr(inv)).exists())
    row = ctx.session.execute(sa.select(*exprs)).first()
    return all(row)


@db_api.context_manager.reader
def aggregate_ids(ctx, uuids):
    """{uuid: id} of the known aggregates among ``uuids``."""
    if not uuids:
        return {}
    rows = ctx.session.execute(sa.select(AGG.c.uuid, AGG.c.id).where(
        AGG.c.uuid.in_(sorted(uuids))))
    return dict(rows.all())


def trait_id(ctx, name):
    return ctx.session.execute(
        sa.select(TRAIT.c.id).where(TRAIT.c.name == name)).scalar()


@db_api.context_manager.reader
def provider_roots(ctx, uuids):
    """{uuid: root id} of the known providers among ``uuids``."""
    if not uuids:
        return {}
    rows = ctx.session.execute(sa.select(RP.c.uuid, RP.c.root_provider_id)
                               .where(RP.c.uuid.in_(sorted(uuids))))
    return dict(rows.all())


def sharing_provider_roots(ctx, sharing_tid, min_amounts):
    """Roots of the trees holding a sharing provider that has an
    aggregate and room for one of the requested classes."""
    if sharing_tid is None or not min_amounts:
        return []
    p = RP.alias()
    t = RP_TRAIT.alias()
    a = RP_AGG.alias()
    room = sa.or_(*[fits_clause(p, rc, amount, exact=False)
                    for rc, amount in sorted(min_amounts.items())])
    query = sa.select(p.c.root_provider_id).where(
        sa.select(1).select_from(t).where(
            t.c.resource_provider_id == p.c.id,
            t.c.trait_id == sharing_tid).exists(),
        sa.select(1).select_from(a).where(
            a.c.resource_provider_id == p.c.id).exists(),
        room,
    ).distinct()
    return sorted(set(ctx.session.execute(query).scalars()))


def root_scan(ctx, conditions, after, limit):
    """Up to ``limit`` root ids greater than ``after``, in id order,
    whose trees satisfy every clause of ``conditions(root)``."""
    root = RP.alias('root')
    query = sa.select(root.c.id).where(
        root.c.parent_provider_id.is_(None),
        root.c.id > after,
        *conditions(root)).order_by(root.c.id)
    if limit is not None:
        query = query.limit(limit)
    return list(ctx.session.execute(query).scalars())


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), MAX_IN):
        yield ids[start:start + MAX_IN]


def load_trees(ctx, root_ids, sharing_tid, trait_names):
    """Every provider of the trees rooted at ``root_ids`` as
    candidate_engine.Provider objects (id order), with inventories
    (capacity and usage), trait ids and aggregate ids. ``trait_names``
    (a dict) is filled with {trait id: name} along the way."""
    providers = {}
    inventories = {}
    traits = {}
    aggs = {}
    for chunk in _chunks(root_ids):
        in_trees = RP.c.root_provider_id.in_(chunk)
        for row in ctx.session.execute(
                sa.select(RP.c.id, RP.c.uuid, RP.c.parent_provider_id,
                          RP.c.root_provider_id).where(in_trees)):
            providers[row[0]] = row
        inv = INV
        for row in ctx.session.execute(
                sa.select(inv.c.resource_provider_id,
                          inv.c.resource_class_id, inv.c.total,
                          inv.c.reserved, inv.c.min_unit, inv.c.max_unit,
                          inv.c.step_size, inv.c.allocation_ratio,
                          _used(inv))
                .select_from(inv.join(RP, RP.c.id == inv.c.resource_provider_id))
                .where(in_trees)):
            (rp_id, rc, total, reserved, min_unit, max_unit, step, ratio,
             used) = row
            inventories.setdefault(rp_id, {})[rc] = engine.Inventory(
                inv_obj.capacity(total, reserved, ratio), int(used or 0),
                min_unit, max_unit, step)
        for rp_id, tid, name in ctx.session.execute(
                sa.select(RP_TRAIT.c.resource_provider_id, TRAIT.c.id,
                          TRAIT.c.name)
                .select_from(RP_TRAIT.join(
                    TRAIT, TRAIT.c.id == RP_TRAIT.c.trait_id).join(
                    RP, RP.c.id == RP_TRAIT.c.resource_provider_id))
                .where(in_trees)):
            traits.setdefault(rp_id, set()).add(tid)
            trait_names[tid] = name
        for rp_id, agg_id in ctx.session.execute(
                sa.select(RP_AGG.c.resource_provider_id,
                          RP_AGG.c.aggregate_id)
                .select_from(RP_AGG.join(
                    RP, RP.c.id == RP_AGG.c.resource_provider_id))
                .where(in_trees)):
            aggs.setdefault(rp_id, set()).add(agg_id)
    result = []
    for rp_id in sorted(providers):
        _id, uuid, parent_id, root_id = providers[rp_id]
        rp_traits = frozenset(traits.get(rp_id, ()))
        result.append(engine.Provider(
            rp_id, uuid, parent_id, root_id,
            inventories=inventories.get(rp_id, {}),
            traits=rp_traits, aggs=frozenset(aggs.get(rp_id, ())),
            sharing=sharing_tid is not None and sharing_tid in rp_traits))
    engine.mark_leaves(result)
    return result
