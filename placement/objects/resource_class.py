"""Resource classes: the standard set (ids = os-resource-classes list
positions) and custom ``CUSTOM_*`` classes (ids from 10000)."""

from oslo_db import exception as db_exc
import os_resource_classes
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement import exception

STANDARDS = list(os_resource_classes.STANDARDS)
# Standard ids never change, so this map can never be stale.
_STANDARD_IDS = {name: index for index, name in enumerate(STANDARDS)}
_STANDARD_NAMES = dict(enumerate(STANDARDS))
MIN_CUSTOM_ID = 10000
CUSTOM_PREFIX = 'CUSTOM_'


def is_standard(name):
    return name in _STANDARD_IDS


def standard_id(name):
    """The fixed id of standard class ``name``, or None."""
    return _STANDARD_IDS.get(name)


@db_api.retry_on_deadlock
@db_api.context_manager.writer
def ensure_standard_classes(ctx):
    """Insert any missing standard class (never deletes or renames)."""
    rows = [{'id': index, 'name': name} for index, name in enumerate(STANDARDS)]
    db_api.insert_ignore_duplicates(ctx.session, models.RC, rows)


def _mapped(ctx, keys, standard, key_col, value_col):
    """{key: value} for the known ``keys``: standard classes from the
    ``standard`` map, custom ones read from the table (``key_col`` →
    ``value_col``)."""
    result = {k: standard[k] for k in keys if k in standard}
    custom = sorted(set(k for k in keys if k not in standard))
    if custom:
        result.update(ctx.session.execute(
            sa.select(key_col, value_col).where(key_col.in_(custom))).all())
    return result


@db_api.context_manager.reader
def ids_from_names(ctx, names):
    """{name: id} for every known name in ``names`` (unknown omitted)."""
    return _mapped(ctx, names, _STANDARD_IDS, models.RC.c.name,
                   models.RC.c.id)


@db_api.context_manager.reader
def names_from_ids(ctx, ids):
    """{id: name} for ``ids``."""
    return _mapped(ctx, ids, _STANDARD_NAMES, models.RC.c.id,
                   models.RC.c.name)


def id_from_name(ctx, name):
    """The id of class ``name``; ResourceClassNotFound when unknown."""
    ids = ids_from_names(ctx, [name])
    if name not in ids:
        raise exception.ResourceClassNotFound(name=name)
    return ids[name]


def name_from_id(ctx, rc_id):
    names = names_from_ids(ctx, [rc_id])
    if rc_id not in names:
        raise exception.ResourceClassNotFound(name=rc_id)
    return names[rc_id]


# ------------------------------------------------------------------------
# The /resource_classes API.

class ResourceClassExists(exception.Conflict):
    msg_fmt = 'Resource class already exists: %(name)s'


class ResourceClassIsStandard(exception.PlacementException):
    msg_fmt = 'Resource class %(name)s is a standard class.'


class ResourceClassInUse(exception.Conflict):
    msg_fmt = ('Cannot delete resource class %(name)s. Class is in use in '
               'inventory.')


# How often creation retries after another writer took the same new id.
_CREATE_ATTEMPTS = 10


def _select():
    return sa.select(models.RC.c.id, models.RC.c.name,
                     models.RC.c.created_at, models.RC.c.updated_at)


@db_api.context_manager.reader
def get_all(ctx):
    """Every class row (standard and custom), in id order."""
    return ctx.session.execute(_select().order_by(models.RC.c.id)).all()


@db_api.context_manager.reader
def get_by_name(ctx, name):
    """The class row; ResourceClassNotFound when unknown."""
    row = ctx.session.execute(
        _select().where(models.RC.c.name == name)).first()
    if row is None:
        raise exception.ResourceClassNotFound(name=name)
    return row


@db_api.context_manager.writer
def _insert_custom(ctx, name):
    # One statement computing the id, so the transaction writes before it
    # reads (SQLite would otherwise fail a racing writer at once).
    rc = models.RC
    next_id = sa.func.coalesce(sa.func.max(rc.c.id), 0) + 1
    new_id = sa.case((next_id < MIN_CUSTOM_ID, MIN_CUSTOM_ID),
                     else_=next_id)
    ctx.session.execute(sa.insert(rc).from_select(
        ['id', 'name'],
        sa.select(new_id, sa.literal(name, sa.String(255)))))


def create(ctx, name):
    """Create custom class ``name`` (id = max(id)+1, at least 10000).
    ResourceClassExists when the name is taken. Two creators racing for the
    same new id: the loser retries with the next id."""
    for _attempt in range(_CREATE_ATTEMPTS):
        try:
            return _insert_custom(ctx, name)
        except (db_exc.DBDuplicateEntry, db_exc.DBDeadlock):
            # Either the name (a concurrent create of the same class) or
            # the id was taken; a fresh read tells which.
            if _exists(ctx, name):
                raise ResourceClassExists(name=name)
    raise exception.ConcurrentUpdateDetected()


@db_api.context_manager.reader
def _exists(ctx, name):
    return ctx.session.execute(sa.select(models.RC.c.id).where(
        models.RC.c.name == name)).first() is not None


def ensure(ctx, name):
    """Create ``name`` unless it exists; True when it was created."""
    if _exists(ctx, name):
        return False
    try:
        create(ctx, name)
    except ResourceClassExists:
        return False
    return True


@db_api.context_manager.writer
def _rename(ctx, old, new):
    result = ctx.session.execute(sa.update(models.RC).where(
        models.RC.c.name == old).values(name=new))
    if result.rowcount != 1:
        raise exception.ResourceClassNotFound(name=old)


def rename(ctx, old, new):
    """Rename custom class ``old`` to ``new`` and return the new row.
    ResourceClassNotFound / ResourceClassIsStandard / ResourceClassExists.
    """
    if is_standard(old):
        # Standard classes always exist, so this is never a hidden 404.
        raise ResourceClassIsStandard(name=old)
    try:
        _rename(ctx, old, new)
    except db_exc.DBDuplicateEntry:
        raise ResourceClassExists(name=new)
    return get_by_name(ctx, new)


def delete(ctx, name):
    """Delete custom class ``name`` unless an inventory uses it.
    ResourceClassNotFound / ResourceClassIsStandard / ResourceClassInUse.
    """
    if is_standard(name):
        raise ResourceClassIsStandard(name=name)
    if not _delete_unused(ctx, name):
        get_by_name(ctx, name)  # ResourceClassNotFound when unknown
        raise ResourceClassInUse(name=name)


@db_api.context_manager.writer
def _delete_unused(ctx, name):
    # One statement: delete only if no inventory uses it (no window for
    # an inventory to appear between a check and the delete).
    rc = models.RC
    in_use = sa.exists().where(models.INV.c.resource_class_id == rc.c.id)
    result = ctx.session.execute(
        sa.delete(rc).where(rc.c.name == name).where(~in_use))
    return result.rowcount == 1
