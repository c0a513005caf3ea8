"""Traits: the standard set from os-traits and custom ``CUSTOM_*``
traits."""

from oslo_db import exception as db_exc
import os_traits
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql
from placement import exception
from placement.objects import resource_provider as rp_obj

CUSTOM_PREFIX = 'CUSTOM_'


@db_api.retry_on_deadlock
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
    wanted = sorted(names)
    found = dict(sql.execute(
        sql.connection(ctx), 'SELECT name, id FROM traits WHERE name IN '
        '(' + sql.marks(len(wanted)) + ')', wanted).all())
    check_all_found(names, found)
    return found


def check_all_found(names, found):
    """TraitNotFound listing the ``names`` missing from {name: id}
    ``found``."""
    missing = set(names) - set(found)
    if missing:
        raise exception.TraitNotFound(names=', '.join(sorted(missing)))


class TraitInUse(exception.Conflict):
    msg_fmt = 'The trait %(name)s is in use by a resource provider.'


class TraitCannotDeleteStandard(exception.PlacementException):
    msg_fmt = 'Cannot delete standard trait %(name)s.'


def is_custom(name):
    return name.startswith(CUSTOM_PREFIX)


@db_api.context_manager.reader
def get_all(ctx, names=None, prefix=None, associated=None):
    """Trait rows in creation order, optionally only ``names``, only
    those starting with ``prefix``, and only those (not) associated with
    some provider."""
    query = sa.select(models.TRAIT).order_by(models.TRAIT.c.id)
    if names is not None:
        query = query.where(models.TRAIT.c.name.in_(sorted(set(names))))
    if prefix is not None:
        query = query.where(
            models.TRAIT.c.name.startswith(prefix, autoescape=True))
    if associated is not None:
        used = sa.exists().where(
            models.RP_TRAIT.c.trait_id == models.TRAIT.c.id)
        query = query.where(used if associated else ~used)
    return ctx.session.execute(query).all()


def named_and_held(ctx, rp_id, names):
    """In the caller's transaction, one round trip: the trait rows named
    ``names`` (in creation order) and the set of the provider's trait ids
    now. Read it after the provider's row lock (util.provider_write), as
    associated_ids."""
    named = sa.select(
        models.TRAIT.c.id, models.TRAIT.c.name, models.TRAIT.c.created_at,
        models.TRAIT.c.updated_at).where(
            models.TRAIT.c.name.in_(sorted(set(names))))
    # The provider's rows carry no name.
    held = sa.select(models.RP_TRAIT.c.trait_id, sa.null(), sa.null(),
                     sa.null()).where(
        models.RP_TRAIT.c.resource_provider_id == rp_id)
    rows = ctx.session.execute(sa.union_all(named, held)).all()
    return (sorted((row for row in rows if row.name is not None),
                   key=lambda row: row.id),
            set(row.id for row in rows if row.name is None))


@db_api.context_manager.reader
def get_by_name(ctx, name):
    """The trait row; TraitNotFound when unknown."""
    row = ctx.session.execute(sa.select(models.TRAIT).where(
        models.TRAIT.c.name == name)).first()
    if row is None:
        raise exception.TraitNotFound(names=name)
    return row


@db_api.context_manager.writer
def _insert(ctx, name):
    ctx.session.execute(sa.insert(models.TRAIT).values(name=name))


@exception.db_races_as_conflict()
def ensure(ctx, name):
    """Create trait ``name`` unless it exists: (row, created). Racing
    creators agree: the loser of the insert sees it as existing."""
    try:
        return get_by_name(ctx, name), False
    except exception.TraitNotFound:
        pass
    try:
        _insert(ctx, name)
        created = True
    except db_exc.DBDuplicateEntry:
        created = False
    return get_by_name(ctx, name), created


@db_api.context_manager.writer
def _delete_unused(ctx, trait_id):
    # The DELETE comes first (SQLite takes its write lock before reading).
    unused = ~sa.exists().where(models.RP_TRAIT.c.trait_id == trait_id)
    return ctx.session.execute(
        sa.delete(models.TRAIT).where(models.TRAIT.c.id == trait_id)
        .where(unused)).rowcount


@exception.db_races_as_conflict()
def delete(ctx, name):
    """Delete a custom trait; TraitNotFound, TraitCannotDeleteStandard, or
    TraitInUse (also when a provider gained it concurrently: the foreign
    key then refuses the delete)."""
    row = get_by_name(ctx, name)
    if not is_custom(name):
        raise TraitCannotDeleteStandard(name=name)
    try:
        deleted = _delete_unused(ctx, row.id)
    except db_exc.DBReferenceError:
        raise TraitInUse(name=name)
    if not deleted:
        get_by_name(ctx, name)  # TraitNotFound if a racer deleted it
        raise TraitInUse(name=name)


def _provider_traits_select(rp_id):
    return sa.select(models.TRAIT).select_from(
        models.TRAIT.join(models.RP_TRAIT,
                          models.RP_TRAIT.c.trait_id == models.TRAIT.c.id)
    ).where(models.RP_TRAIT.c.resource_provider_id == rp_id).order_by(
        models.TRAIT.c.id)


@db_api.context_manager.reader
def get_for_provider(ctx, rp_id):
    """The provider's trait rows, in trait creation order."""
    return ctx.session.execute(_provider_traits_select(rp_id)).all()


@exception.db_races_as_conflict()
@db_api.context_manager.writer
def set_for_provider(ctx, rp_id, generation, trait_ids, current=None):
    """Make ``trait_ids`` the provider's traits, as of ``generation``.
    The generation moves only if the set changes; either way it is
    verified under the provider's row lock, taken first (before any
    read, so SQLite never has to upgrade a read lock), and a writer
    racing on the same generation gets
    ResourceProviderConcurrentUpdateDetected. ``current``, when given,
    is the provider's set of trait ids as the caller read it in this
    transaction after taking that lock and verifying the generation
    itself (util.provider_write, named_and_held). Returns the provider's
    generation afterwards."""
    if current is None:
        rp_obj.lock_provider(ctx, rp_id, generation)
        current = rp_obj.associated_ids(ctx, models.RP_TRAIT.c.trait_id,
                                        rp_id)
    wanted = set(trait_ids)
    if current == wanted:
        return generation
    new_generation = rp_obj.increment_generation(ctx, rp_id, generation)
    rp_obj.replace_associations(
        ctx, models.RP_TRAIT.c.trait_id, rp_id, current, wanted)
    return new_generation


def delete_for_provider(ctx, rp_id, generation):
    """Remove all of the provider's traits; the generation moves only if
    it had any. Returns the generation afterwards."""
    return set_for_provider(ctx, rp_id, generation, ())
