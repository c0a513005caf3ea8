"""Resource classes: the standard set (ids = os-resource-classes list
positions) and custom ``CUSTOM_*`` classes (ids from 10000)."""

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


@db_api.context_manager.writer
def ensure_standard_classes(ctx):
    """Insert any missing standard class (never deletes or renames)."""
    rows = [{'id': index, 'name': name} for index, name in enumerate(STANDARDS)]
    db_api.insert_ignore_duplicates(ctx.session, models.RC, rows)


@db_api.context_manager.reader
def id_from_name(ctx, name):
    """The id of class ``name``; ResourceClassNotFound when unknown."""
    if name in _STANDARD_IDS:
        return _STANDARD_IDS[name]
    rc_id = ctx.session.execute(
        sa.select(models.RC.c.id).where(models.RC.c.name == name)
    ).scalar()
    if rc_id is None:
        raise exception.ResourceClassNotFound(name=name)
    return rc_id


@db_api.context_manager.reader
def ids_from_names(ctx, names):
    """{name: id} for every known name in ``names`` (unknown omitted)."""
    result = {n: _STANDARD_IDS[n] for n in names if n in _STANDARD_IDS}
    custom = [n for n in names if n not in _STANDARD_IDS]
    if custom:
        rows = ctx.session.execute(
            sa.select(models.RC.c.name, models.RC.c.id).where(
                models.RC.c.name.in_(custom)))
        result.update({name: rc_id for name, rc_id in rows})
    return result


@db_api.context_manager.reader
def names_from_ids(ctx, ids):
    """{id: name} for ``ids``."""
    result = {i: _STANDARD_NAMES[i] for i in ids if i in _STANDARD_NAMES}
    custom = [i for i in ids if i not in _STANDARD_NAMES]
    if custom:
        rows = ctx.session.execute(
            sa.select(models.RC.c.id, models.RC.c.name).where(
                models.RC.c.id.in_(custom)))
        result.update(dict(rows.all()))
    return result


def name_from_id(ctx, rc_id):
    names = names_from_ids(ctx, [rc_id])
    if rc_id not in names:
        raise exception.ResourceClassNotFound(name=rc_id)
    return names[rc_id]
