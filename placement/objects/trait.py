"""Traits: the standard set from os-traits and custom ``CUSTOM_*``
traits."""

import os_traits
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement import exception

CUSTOM_PREFIX = 'CUSTOM_'


@db_api.context_manager.writer
def ensure_standard_traits(ctx):
    """Insert any missing os-traits name (never deletes). Safe when several
    workers start at once: duplicates are ignored by the database."""
    wanted = set(os_traits.get_traits())
    existing = set(ctx.session.execute(
        sa.select(models.TRAIT.c.name)).scalars())
    missing = sorted(wanted - existing)
    db_api.insert_ignore_duplicates(
        ctx.session, models.TRAIT, [{'name': name} for name in missing])


@db_api.context_manager.reader
def ids_from_names(ctx, names):
    """{name: id} for ``names``; TraitNotFound listing any unknown ones."""
    names = set(names)
    if not names:
        return {}
    rows = ctx.session.execute(
        sa.select(models.TRAIT.c.name, models.TRAIT.c.id).where(
            models.TRAIT.c.name.in_(names)))
    found = dict(rows.all())
    missing = names - set(found)
    if missing:
        raise exception.TraitNotFound(names=', '.join(sorted(missing)))
    return found
