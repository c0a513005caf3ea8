"""Inventories of resource providers (the capacity arithmetic they share
with allocations, provider filters and candidates is in capacity.py)."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql
from placement import exception
from placement.objects import capacity as capacity_mod
from placement.objects import resource_class as rc_obj
from placement.objects import resource_provider as rp_obj

INV = models.INV
ALLOC = models.ALLOC


# Kept under their old names for the allocation writer and the inventory
# handler.
capacity = capacity_mod.capacity
ratio_sql = capacity_mod.ratio_sql


# --- Inventory records -------------------------------------------------

MAX_INT = 2147483647
FIELDS = ('total', 'reserved', 'min_unit', 'max_unit', 'step_size',
          'allocation_ratio')
DEFAULTS = {
    'reserved': 0,
    'min_unit': 1,
    'max_unit': MAX_INT,
    'step_size': 1,
    'allocation_ratio': 1.0,
}


class InventoryExists(exception.Conflict):
    msg_fmt = ('Inventory for %(resource_class)s on resource provider '
               '%(resource_provider)s already exists.')


class InventoryNotFound(exception.NotFound):
    msg_fmt = 'No inventory of class %(resource_class)s for %(resource_provider)s'


class InventoryInUse(exception.Conflict):
    msg_fmt = ("Inventory for '%(resource_classes)s' on resource provider "
               "'%(resource_provider)s' in use.")

    @property
    def resource_class_names(self):
        """The classes in use as a list (class names never contain
        ', ')."""
        return self.kwargs['resource_classes'].split(', ')


def with_defaults(body):
    """The six record fields of a request body, defaults filled in."""
    record = dict(DEFAULTS)
    record.update((k, body[k]) for k in FIELDS if k in body)
    record['allocation_ratio'] = float(record['allocation_ratio'])
    return record


def serialize(row):
    """A record as the API shows it: all six fields, ratio a float."""
    record = {k: getattr(row, k) for k in FIELDS}
    record['allocation_ratio'] = float(record['allocation_ratio'])
    return record


def _select(rp_id):
    return sa.select(*capacity_mod.columns()).where(
        INV.c.resource_provider_id == rp_id).order_by(INV.c.id)


@db_api.context_manager.reader
def get_all(ctx, rp_id):
    """The provider's inventory rows in creation order, each paired with
    its class name: [(name, row), ...]."""
    rows = ctx.session.execute(_select(rp_id)).all()
    names = rc_obj.names_from_ids(ctx, [r.resource_class_id for r in rows])
    return [(names[r.resource_class_id], r) for r in rows]


@db_api.context_manager.reader
def get_one(ctx, rp_id, rc_id):
    """The provider's inventory row of class ``rc_id``, or None."""
    return ctx.session.execute(
        _select(rp_id).where(INV.c.resource_class_id == rc_id)).first()


def _check_not_in_use(ctx, rp, rc_ids):
    """InventoryInUse naming (in class id order) those of ``rc_ids`` the
    provider has allocations of. Called after the generation
    compare-and-set, so allocation writers of this provider are fenced."""
    if not rc_ids:
        return
    used = ctx.session.execute(
        sa.select(ALLOC.c.resource_class_id).distinct()
        .where(ALLOC.c.resource_provider_id == rp.id)
        .where(ALLOC.c.resource_class_id.in_(sorted(rc_ids)))
        .order_by(ALLOC.c.resource_class_id)).scalars().all()
    if used:
        names = rc_obj.names_from_ids(ctx, used)
        raise InventoryInUse(
            resource_classes=', '.join(names[i] for i in used),
            resource_provider=rp.uuid)


def _existing(ctx, rp_id):
    """{rc id: allocation ratio} of the provider's inventory (the rest of
    each record is not needed to replace it)."""
    return dict(sql.execute(
        sql.connection(ctx), 'SELECT resource_class_id, allocation_ratio '
        'FROM inventories WHERE resource_provider_id = %s', (rp_id,)).all())


_INSERT_SQL = ('INSERT INTO inventories (resource_provider_id, '
               'resource_class_id, total, reserved, min_unit, max_unit, '
               'step_size, allocation_ratio, created_at) VALUES ')


def _insert_many(ctx, rp, records, rc_name=None):
    """Insert {rc id: record} in one statement; InventoryExists (naming
    ``rc_name`` or the first class) if one is there already."""
    if not records:
        return
    conn = sql.connection(ctx)
    created = sql.now(conn)
    params = []
    for rc_id, record in records.items():
        params += [rp.id, rc_id] + [record[k] for k in FIELDS] + [created]
    try:
        sql.execute(conn, _INSERT_SQL + ', '.join(
            ['(%s, %s, %s, %s, %s, %s, %s, %s, %s)'] * len(records)), params)
    except db_exc.DBDuplicateEntry:
        raise InventoryExists(resource_class=rc_name or next(iter(records)),
                              resource_provider=rp.uuid)


def _insert(ctx, rp, rc_id, record, rc_name=None):
    _insert_many(ctx, rp, {rc_id: record}, rc_name)


def _update(ctx, rp_id, rc_id, record):
    return ctx.session.execute(
        sa.update(INV).where(INV.c.resource_provider_id == rp_id)
        .where(INV.c.resource_class_id == rc_id).values(**record)).rowcount


def _delete(ctx, rp_id, rc_ids):
    if rc_ids:
        ctx.session.execute(
            sa.delete(INV).where(INV.c.resource_provider_id == rp_id)
            .where(INV.c.resource_class_id.in_(sorted(rc_ids))))


# Every write below first bumps the provider generation with the
# compare-and-set (which also locks the provider row until commit), then
# checks and changes inventory in that same transaction: two writers that
# saw the same generation can never both succeed.

@exception.db_races_as_conflict()
@db_api.context_manager.writer
def add(ctx, rp, generation, rc_id, record, rc_name=None):
    """Add one class; InventoryExists if present. New generation."""
    new_generation = rp_obj.increment_generation(ctx, rp.id, generation)
    if get_one(ctx, rp.id, rc_id) is not None:
        raise InventoryExists(resource_class=rc_name or rc_id,
                              resource_provider=rp.uuid)
    _insert(ctx, rp, rc_id, record, rc_name)
    return new_generation


@exception.db_races_as_conflict()
@db_api.context_manager.writer
def update_one(ctx, rp, generation, rc_id, record):
    """Update one existing class; InventoryNotFound if the provider has
    none of it (lowering below usage is allowed). New generation."""
    new_generation = rp_obj.increment_generation(ctx, rp.id, generation)
    if not _update(ctx, rp.id, rc_id, record):
        raise InventoryNotFound(resource_class=rc_id,
                                resource_provider=rp.uuid)
    return new_generation


@exception.db_races_as_conflict()
@db_api.context_manager.writer
def replace_all(ctx, rp, generation, records):
    """Make ``records`` ({rc_id: record}) the provider's whole inventory;
    InventoryInUse if a removed class has allocations. New generation."""
    new_generation = rp_obj.increment_generation(ctx, rp.id, generation)
    existing = _existing(ctx, rp.id)
    removed = set(existing) - set(records)
    _check_not_in_use(ctx, rp, removed)
    _delete(ctx, rp.id, removed)
    for rc_id, record in records.items():
        if rc_id in existing:
            _update(ctx, rp.id, rc_id, record)
    _insert_many(ctx, rp, {rc_id: record for rc_id, record in records.items()
                           if rc_id not in existing})
    return new_generation


@exception.db_races_as_conflict()
@db_api.context_manager.writer
def delete_one(ctx, rp, generation, rc_id):
    """Remove one class; InventoryNotFound if absent, InventoryInUse if
    allocated. New generation."""
    new_generation = rp_obj.increment_generation(ctx, rp.id, generation)
    if get_one(ctx, rp.id, rc_id) is None:
        raise InventoryNotFound(resource_class=rc_id,
                                resource_provider=rp.uuid)
    _check_not_in_use(ctx, rp, [rc_id])
    _delete(ctx, rp.id, [rc_id])
    return new_generation


def delete_all(ctx, rp, generation):
    """Remove every class (the generation moves even when there was
    none); InventoryInUse if any is allocated. New generation."""
    return replace_all(ctx, rp, generation, {})
