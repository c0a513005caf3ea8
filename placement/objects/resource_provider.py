"""Resource providers: lookup, trees, and the compare-and-set generation
update every provider-changing write goes through."""

import collections

from oslo_db import exception as db_exc
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql
from placement import exception
from placement.objects import capacity

RP = models.RP


def _provider_select():
    parent = RP.alias('parent')
    root = RP.alias('root')
    return sa.select(
        RP.c.id, RP.c.uuid, RP.c.name, RP.c.generation,
        RP.c.parent_provider_id, RP.c.root_provider_id,
        RP.c.created_at, RP.c.updated_at,
        parent.c.uuid.label('parent_provider_uuid'),
        root.c.uuid.label('root_provider_uuid'),
    ).select_from(
        RP.outerjoin(parent, RP.c.parent_provider_id == parent.c.id)
          .outerjoin(root, RP.c.root_provider_id == root.c.id))


# _provider_select() as driver SQL, for the per-request lookups.
_PROVIDER_SQL = (
    'SELECT p.id, p.uuid, p.name, p.generation, p.parent_provider_id, '
    'p.root_provider_id, p.created_at, p.updated_at, '
    'parent.uuid AS parent_provider_uuid, root.uuid AS root_provider_uuid '
    'FROM resource_providers p '
    'LEFT JOIN resource_providers parent ON parent.id = p.parent_provider_id '
    'LEFT JOIN resource_providers root ON root.id = p.root_provider_id '
    'WHERE p.{column} = %s')


def _provider_row(ctx, column, value):
    conn = sql.connection(ctx)
    if conn.dialect.name == 'sqlite':
        # The driver returns SQLite's text timestamps as text: let
        # SQLAlchemy type the row.
        row = ctx.session.execute(_provider_select().where(
            RP.c[column] == value)).first()
    else:
        row = sql.execute(conn, _PROVIDER_SQL.format(column=column),
                          (value,)).first()
    if row is None:
        raise exception.ResourceProviderNotFound()
    return row


_LOCK_BY_UUID_SQL = ('UPDATE resource_providers SET updated_at = updated_at '
                     'WHERE uuid = %s')
# The provider's own columns, as _PROVIDER_SQL names them.
_OWN_COLUMNS = ('id, uuid, name, generation, parent_provider_id, '
                'root_provider_id, created_at, updated_at')


def lock_and_get(ctx, uuid):
    """In the caller's writer transaction: lock provider ``uuid`` (a no-op
    UPDATE, before any read: a row lock on MySQL and PostgreSQL, the
    database write lock on SQLite), then read its row, current on every
    backend (MySQL's snapshot begins after the lock; PostgreSQL returns
    the row version it locked). The provider's own columns only, without
    its parent's and root's uuids. For a handler's lookup and write in
    one transaction. ResourceProviderNotFound."""
    conn = sql.connection(ctx)
    if conn.dialect.name == 'postgresql':
        # One round trip: the lock returns the row.
        row = sql.execute(conn, _LOCK_BY_UUID_SQL + ' RETURNING ' +
                          _OWN_COLUMNS, (uuid,)).first()
        if row is None:
            raise exception.ResourceProviderNotFound()
        return row
    if sql.execute(conn, _LOCK_BY_UUID_SQL, (uuid,)).rowcount != 1:
        raise exception.ResourceProviderNotFound()
    if conn.dialect.name == 'sqlite':
        return _provider_row(ctx, 'uuid', uuid)
    return sql.execute(conn, 'SELECT ' + _OWN_COLUMNS + ' FROM '
                       'resource_providers WHERE uuid = %s', (uuid,)).first()


@db_api.context_manager.reader
def get_by_uuid(ctx, uuid):
    """The provider row (with parent/root uuids) or
    ResourceProviderNotFound."""
    return _provider_row(ctx, 'uuid', uuid)


# ------------------------------------------------------------------------
# Provider row locks and the generation compare-and-set. Every write that
# must serialise per provider goes through _lock_where(): an UPDATE takes
# row locks on MySQL and PostgreSQL and the database write lock on SQLite
# (before any read, so SQLite never has to upgrade a read lock).

def _lock_where(ctx, clause, **values):
    """UPDATE the providers matching ``clause`` with ``values`` (by
    default a no-op, which only locks them). Returns the matched row
    count (rowcount counts matched rows on every supported backend)."""
    values = values or {'updated_at': RP.c.updated_at}
    return ctx.session.execute(
        sa.update(RP).where(clause).values(**values)).rowcount


def _provider_cas(ctx, rp_id, seen):
    """Lock one provider row (a no-op UPDATE), verifying its generation is
    still ``seen`` (unless None); ResourceProviderConcurrentUpdateDetected
    when it is not (or the provider is gone)."""
    statement = 'UPDATE resource_providers SET updated_at = updated_at ' \
        'WHERE id = %s'
    params = [rp_id]
    if seen is not None:
        statement += ' AND generation = %s'
        params.append(seen)
    if sql.execute(sql.connection(ctx), statement, params).rowcount != 1:
        raise exception.ResourceProviderConcurrentUpdateDetected()


def increment_generation(ctx, rp_id, expected_generation):
    """Compare-and-set ``generation = expected + 1`` in the caller's
    transaction; ResourceProviderConcurrentUpdateDetected when another
    writer got there first. Returns the new generation."""
    conn = sql.connection(ctx)
    matched = sql.execute(
        conn, 'UPDATE resource_providers SET generation = %s, '
        'updated_at = %s WHERE id = %s AND generation = %s',
        (expected_generation + 1, sql.now(conn), rp_id,
         expected_generation)).rowcount
    if matched != 1:
        raise exception.ResourceProviderConcurrentUpdateDetected()
    return expected_generation + 1


def lock_provider(ctx, rp_id, generation=None):
    """Lock the provider row until the caller's transaction ends without
    changing it; when ``generation`` is given, also verify it is still
    current. For writes that must be serialised per provider but not
    bump the generation (aggregates before 1.19, unchanged trait sets)."""
    _provider_cas(ctx, rp_id, generation)


def bump_or_lock(ctx, rp_id, generation):
    """increment_generation() when ``generation`` is given, else only
    lock_provider(). Returns the new generation (or None)."""
    if generation is None:
        lock_provider(ctx, rp_id)
        return None
    return increment_generation(ctx, rp_id, generation)


def associated_ids(ctx, column, rp_id):
    """The set of ``column`` values (trait or aggregate ids) associated
    with the provider. Call it after lock_provider()/increment_generation()
    as the transaction's first read: MySQL's snapshot then starts after
    the lock was granted and sees every earlier writer's rows. (A locking
    read would take gap locks that deadlock writers of other providers.)"""
    return set(row[0] for row in sql.execute(
        sql.connection(ctx), 'SELECT {c} FROM {t} WHERE '
        'resource_provider_id = %s'.format(c=column.name,
                                           t=column.table.name), (rp_id,)))


def replace_associations(ctx, column, rp_id, current, wanted):
    """Turn the provider's ``current`` set of ``column`` values (trait or
    aggregate ids) into ``wanted``: delete the removed, insert the added
    (ignoring rows a racer inserted)."""
    conn = sql.connection(ctx)
    table = column.table.name
    removed = sorted(current - wanted)
    if removed:
        statement = ('DELETE FROM {t} WHERE resource_provider_id = %s '
                     'AND {c} IN ({m})').format(
            t=table, c=column.name, m=sql.marks(len(removed)))
        sql.execute(conn, statement, [rp_id] + removed)
    sql.insert_ignore(conn, table, ('resource_provider_id', column.name),
                      [(rp_id, value) for value in sorted(wanted - current)])


# ------------------------------------------------------------------------
# Exceptions specific to providers (translated to HTTP by the handler).

class DuplicateProvider(exception.Conflict):
    """Name and/or uuid already used by another provider."""

    def __init__(self, name=None, uuid=None):
        clauses = []
        if name is not None:
            clauses.append('Conflicting resource provider name: %s '
                           'already exists' % name)
        if uuid is not None:
            clauses.append('Conflicting resource provider uuid: %s '
                           'already exists' % uuid)
        super().__init__(', '.join(clauses) + '.')
        self.name = name
        self.uuid = uuid


class InvalidParent(exception.PlacementException):
    """A requested parent change is not allowed (a 400)."""


class ProviderHasChildren(exception.Conflict):
    msg_fmt = ('Unable to delete parent resource provider %(uuid)s: '
               'It has child resource providers.')


class ProviderInUse(exception.Conflict):
    msg_fmt = ('Unable to delete resource provider %(uuid)s: Resource '
               'provider has allocations.')


PARENT_NOT_FOUND = 'parent provider UUID does not exist.'
PARENT_IS_SELF = ('parent provider UUID cannot be same as UUID. Please set '
                  'parent provider UUID to None if there is no parent.')
PROVIDER_LOOP = 'creating loop in the provider tree is not allowed.'
REPARENT_NOT_ALLOWED = 're-parenting a provider is not currently allowed.'
UNPARENT_NOT_ALLOWED = 'un-parenting a provider is not currently allowed.'


# ------------------------------------------------------------------------
# Tree locks. A change to a tree's shape (a new child, a new parent) first
# locks the root rows of every tree it touches, in ascending id order, and
# only then any other row: writers of overlapping trees queue on the
# roots instead of deadlocking on each other's rows (locking a moved
# provider's own row first lets three moves across three trees lock in a
# cycle). Such a transaction is READ COMMITTED on every backend
# (sql.read_committed for MySQL's), so plain reads after the root locks
# see every earlier tree change, and lock nothing more.

_TREE_COLUMNS = (RP.c.id, RP.c.uuid, RP.c.root_provider_id,
                 RP.c.parent_provider_id)


def _locked_by_uuid(ctx, uuid):
    """The provider's tree columns, read with a row lock (FOR UPDATE: a
    read MySQL's repeatable-read snapshot cannot make stale)."""
    return ctx.session.execute(
        sa.select(*_TREE_COLUMNS).where(RP.c.uuid == uuid)
        .with_for_update()).first()


def _lock_roots(ctx, uuids):
    """Lock the roots of the trees holding the providers ``uuids``, in id
    order; return their rows (None for a missing one), read once the
    locks are held. When a tree moved while we waited (a root read
    afterwards is not one we locked), TransactionMustRestart: the
    caller's retry_on_deadlock answers it with a new transaction. The
    transaction's first statement: on MySQL it makes it READ COMMITTED,
    so that the reads after the locks see the latest commits and the
    locks take no gap locks (those would reach into neighbouring trees
    and cycle with their inserts)."""
    conn = sql.connection(ctx)
    sql.read_committed(conn)
    if conn.dialect.name == 'sqlite':
        # The first write takes SQLite's database lock, which serialises
        # every writer; it must come before any read (see _create).
        _lock_where(ctx, RP.c.uuid.in_(uuids))
    select = sa.select(*_TREE_COLUMNS).where(RP.c.uuid.in_(uuids))
    roots = {row.root_provider_id for row in ctx.session.execute(select)}
    for root_id in sorted(roots):
        _lock_where(ctx, RP.c.id == root_id)
    rows = ctx.session.execute(select).all()
    if {row.root_provider_id for row in rows} - roots:
        raise exception.TransactionMustRestart()
    # (MySQL compares uuids case-insensitively.)
    exact = {row.uuid: row for row in rows}
    folded = {row.uuid.lower(): row for row in rows}
    return [exact.get(u, folded.get(u.lower())) for u in uuids]


@db_api.context_manager.reader
def _duplicate_of(ctx, name, uuid):
    """DuplicateProvider describing which of name/uuid another provider
    already uses, or None."""
    rows = ctx.session.execute(
        sa.select(RP.c.name, RP.c.uuid).where(
            sa.or_(RP.c.name == name, RP.c.uuid == uuid))).all()
    dup_name = name if any(r.name == name for r in rows) else None
    dup_uuid = uuid if any(r.uuid == uuid for r in rows) else None
    if dup_name is None and dup_uuid is None:
        return None
    return DuplicateProvider(dup_name, dup_uuid)


def _translate_duplicate(ctx, exc, name, uuid):
    """After a unique violation: the DuplicateProvider to raise (read
    afresh, falling back to the violated columns)."""
    dup = _duplicate_of(ctx, name, uuid)
    if dup is not None:
        return dup
    columns = ' '.join(exc.columns or [])
    if 'uuid' in columns:
        return DuplicateProvider(None, uuid)
    return DuplicateProvider(name, None)


def current_generation(ctx, uuid):
    """The provider's generation now (read in a new transaction, e.g.
    after a failed compare-and-set), or None when it no longer exists.
    For the ``current`` member of a 409."""
    try:
        return get_by_uuid(ctx, uuid).generation
    except exception.ResourceProviderNotFound:
        return None


# ------------------------------------------------------------------------
# Create

_INSERT_ROOT_SQL = (
    'INSERT INTO resource_providers (id, uuid, name, generation, '
    'parent_provider_id, root_provider_id, created_at) '
    'SELECT drawn.id, %s, %s, 0, NULL, drawn.id, %s FROM (SELECT '
    "nextval(pg_get_serial_sequence('resource_providers', 'id')) AS id) "
    'drawn '
    'RETURNING id')

# A provider row as _PROVIDER_SQL reads it.
ProviderRow = collections.namedtuple('ProviderRow', (
    'id', 'uuid', 'name', 'generation', 'parent_provider_id',
    'root_provider_id', 'created_at', 'updated_at', 'parent_provider_uuid',
    'root_provider_uuid'))


@db_api.retry_on_deadlock
def create(ctx, uuid, name, parent_uuid=None):
    """Insert a provider (root, or child of ``parent_uuid``) and return its
    row. DuplicateProvider / InvalidParent on failure."""
    try:
        return _create(ctx, uuid, name, parent_uuid)
    except db_exc.DBDuplicateEntry as exc:
        raise _translate_duplicate(ctx, exc, name, uuid)


@db_api.context_manager.writer
def _create(ctx, uuid, name, parent_uuid):
    # Writes come first in every writer transaction here: on SQLite a
    # transaction that read before writing can hit "database is locked"
    # at once instead of waiting for the other writer.
    parent = None
    if parent_uuid is not None:
        # Lock the parent's tree so a concurrent re-parenting in it cannot
        # leave the new child with a stale root.
        parent = _lock_roots(ctx, [parent_uuid])[0]
        if parent is None:
            raise InvalidParent(PARENT_NOT_FOUND)
    # A taken name or uuid surfaces as DBDuplicateEntry (see create()).
    conn = sql.connection(ctx)
    insert = ('INSERT INTO resource_providers (uuid, name, generation, '
              'parent_provider_id, root_provider_id, created_at) '
              'VALUES (%s, %s, 0, %s, %s, %s)')
    params = (uuid, name, parent.id if parent else None,
              parent.root_provider_id if parent else None, sql.now(conn))
    if parent is None and conn.dialect.name == 'postgresql':
        # A root is its own root: its id is drawn first, for both columns.
        rp_id = sql.execute(conn, _INSERT_ROOT_SQL,
                            (uuid, name, params[-1])).scalar()
    elif conn.dialect.name == 'postgresql':
        rp_id = sql.execute(conn, insert + ' RETURNING id', params).scalar()
    else:
        rp_id = sql.execute(conn, insert, params).lastrowid
        if parent is None:
            sql.execute(conn, 'UPDATE resource_providers SET '
                        'root_provider_id = id WHERE id = %s', (rp_id,))
    if parent is None and conn.dialect.name != 'sqlite':
        # Nothing to read back: the row is what was written (SQLite's
        # driver would read its timestamp back as text).
        return ProviderRow(rp_id, uuid, name, 0, None, rp_id, params[-1],
                           None, None, uuid)
    # Read back in this transaction (no second one for the response).
    return _provider_row(ctx, 'id', rp_id)


@db_api.context_manager.reader
def get_by_id(ctx, rp_id):
    return _provider_row(ctx, 'id', rp_id)


# ------------------------------------------------------------------------
# Update (rename, parent changes)

_UNCHANGED = object()


@db_api.retry_on_deadlock
def update(ctx, uuid, name, parent_uuid=_UNCHANGED, allow_reparent=False):
    """Rename a provider and optionally change its parent (``parent_uuid``
    None = make it a root). A parent change rewrites the root of the whole
    subtree. ``allow_reparent`` (≥1.37) permits changing or clearing an
    existing parent. Returns the updated row."""
    try:
        _update(ctx, uuid, name, parent_uuid, allow_reparent)
    except db_exc.DBDuplicateEntry:
        raise DuplicateProvider(name, None)
    return get_by_uuid(ctx, uuid)


def update_keeps_parent():
    """The ``parent_uuid`` value meaning "leave the parent alone"."""
    return _UNCHANGED


@db_api.context_manager.writer
def _update(ctx, uuid, name, parent_uuid, allow_reparent):
    me = parent = None
    if parent_uuid is not _UNCHANGED:
        # The tree locks come before the rename's row lock (see "Tree
        # locks").
        me, parent = _lock_trees(ctx, uuid, parent_uuid)
    # A plain rename writes first (see _create); a name taken by another
    # provider surfaces as DBDuplicateEntry.
    result = ctx.session.execute(
        sa.update(RP).where(RP.c.uuid == uuid).values(name=name))
    if result.rowcount != 1:
        raise exception.ResourceProviderNotFound()
    if me is not None:
        _change_parent(ctx, me, parent, allow_reparent)


def _tree_rows(ctx, root_id):
    """The tree's (id, parent id) rows; call it with the root locked
    (_lock_roots): no other tree change can then be under way."""
    return ctx.session.execute(
        sa.select(RP.c.id, RP.c.parent_provider_id)
        .where(RP.c.root_provider_id == root_id).order_by(RP.c.id)).all()


def _subtree_ids(rows, top_id):
    """Ids of ``top_id`` and all its descendants among tree ``rows``."""
    children = {}
    for row in rows:
        children.setdefault(row.parent_provider_id, []).append(row.id)
    result, todo = set(), [top_id]
    while todo:
        current = todo.pop()
        if current in result:
            continue
        result.add(current)
        todo.extend(children.get(current, ()))
    return result


def _lock_trees(ctx, uuid, parent_uuid):
    """Lock the provider's tree and the new parent's; return the
    (provider, parent) rows read once the locks are held."""
    wanted = [uuid] if parent_uuid is None else [uuid, parent_uuid]
    rows = _lock_roots(ctx, wanted) + [None]
    me, parent = rows[0], rows[1]
    if me is None:
        raise exception.ResourceProviderNotFound()
    if parent_uuid is not None and parent is None:
        raise InvalidParent(PARENT_NOT_FOUND)
    return me, parent


def _change_parent(ctx, me, parent, allow_reparent):
    new_parent_id = parent.id if parent is not None else None
    if new_parent_id == me.parent_provider_id:
        return
    if me.parent_provider_id is not None and not allow_reparent:
        raise InvalidParent(REPARENT_NOT_ALLOWED if parent is not None
                            else UNPARENT_NOT_ALLOWED)
    subtree = _subtree_ids(_tree_rows(ctx, me.root_provider_id), me.id)
    if parent is not None and parent.id in subtree:
        raise InvalidParent(PROVIDER_LOOP)
    new_root = parent.root_provider_id if parent is not None else me.id
    ctx.session.execute(
        sa.update(RP).where(RP.c.id == me.id)
        .values(parent_provider_id=new_parent_id))
    ctx.session.execute(
        sa.update(RP).where(RP.c.id.in_(sorted(subtree)))
        .values(root_provider_id=new_root))


# ------------------------------------------------------------------------
# Delete

@db_api.retry_on_deadlock
@db_api.context_manager.writer
def delete(ctx, uuid):
    """Delete a provider with its inventories, aggregate and trait
    associations. ResourceProviderNotFound / ProviderHasChildren /
    ProviderInUse."""
    _lock_where(ctx, RP.c.uuid == uuid)
    me = _locked_by_uuid(ctx, uuid)
    if me is None:
        raise exception.ResourceProviderNotFound()
    child = ctx.session.execute(
        sa.select(RP.c.id).where(RP.c.parent_provider_id == me.id)
        .limit(1)).first()
    if child is not None:
        raise ProviderHasChildren(uuid=uuid)
    used = ctx.session.execute(
        sa.select(models.ALLOC.c.id)
        .where(models.ALLOC.c.resource_provider_id == me.id)
        .limit(1)).first()
    if used is not None:
        raise ProviderInUse(uuid=uuid)
    for table in (models.INV, models.RP_AGG, models.RP_TRAIT):
        ctx.session.execute(
            sa.delete(table).where(table.c.resource_provider_id == me.id))
    # MySQL checks the self-reference of a root's root_provider_id even
    # when deleting the row itself: clear it first.
    ctx.session.execute(
        sa.update(RP).where(RP.c.id == me.id)
        .values(root_provider_id=None, parent_provider_id=None))
    ctx.session.execute(sa.delete(RP).where(RP.c.id == me.id))


# ------------------------------------------------------------------------
# List

class ListFilters(object):
    """Filters of ``GET /resource_providers``; all AND together.

    ``resources`` is {rc_id: amount}; ``required`` a list of sets of trait
    ids (any-of terms) and ``forbidden_traits`` a set of trait ids;
    ``member_of`` a list of sets of aggregate uuids and
    ``forbidden_aggs`` a set of aggregate uuids."""

    def __init__(self, name=None, uuid=None, in_tree=None, resources=None,
                 required=None, forbidden_traits=None, member_of=None,
                 forbidden_aggs=None):
        self.name = name
        self.uuid = uuid
        self.in_tree = in_tree
        self.resources = resources or {}
        self.required = required or []
        self.forbidden_traits = forbidden_traits or set()
        self.member_of = member_of or []
        self.forbidden_aggs = forbidden_aggs or set()


def _in_aggregates(agg_uuids):
    """Ids of providers associated with any of ``agg_uuids``."""
    return sa.select(models.RP_AGG.c.resource_provider_id).select_from(
        models.RP_AGG.join(
            models.AGG, models.RP_AGG.c.aggregate_id == models.AGG.c.id)
    ).where(models.AGG.c.uuid.in_(sorted(agg_uuids)))


def _with_traits(trait_ids):
    """Ids of providers having any of ``trait_ids``."""
    return sa.select(models.RP_TRAIT.c.resource_provider_id).where(
        models.RP_TRAIT.c.trait_id.in_(sorted(trait_ids)))


def _with_capacity(rc_id, amount):
    """Ids of providers whose inventory of ``rc_id`` can take ``amount``.

    Usage is a correlated sum per inventory row (an index lookup on
    allocations) rather than a join to capacity.usage_subquery(): without
    table statistics PostgreSQL plans that join as a nested loop, which
    takes tens of seconds for 10,000 providers."""
    inv, alloc = capacity.INV, models.ALLOC
    used = sa.func.coalesce(
        sa.select(sa.func.sum(alloc.c.used)).where(
            alloc.c.resource_provider_id == inv.c.resource_provider_id,
            alloc.c.resource_class_id == inv.c.resource_class_id,
        ).scalar_subquery(), 0)
    return sa.select(inv.c.resource_provider_id).where(
        inv.c.resource_class_id == rc_id,
        used + amount <= capacity.capacity_expr(inv),
        inv.c.min_unit <= amount,
        inv.c.max_unit >= amount,
        sa.literal(amount) % inv.c.step_size == 0,
    )


@db_api.context_manager.reader
def list_providers(ctx, filters):
    """Provider rows (with parent/root uuids) matching ``filters``, in
    creation order; one SQL statement whatever the filters."""
    stmt = _provider_select()
    if filters.name is not None:
        stmt = stmt.where(RP.c.name == filters.name)
    if filters.uuid is not None:
        stmt = stmt.where(RP.c.uuid == filters.uuid)
    if filters.in_tree is not None:
        tree = RP.alias('tree')
        stmt = stmt.where(RP.c.root_provider_id == sa.select(
            tree.c.root_provider_id).where(
                tree.c.uuid == filters.in_tree).scalar_subquery())
    for agg_uuids in filters.member_of:
        stmt = stmt.where(RP.c.id.in_(_in_aggregates(agg_uuids)))
    if filters.forbidden_aggs:
        stmt = stmt.where(
            RP.c.id.not_in(_in_aggregates(filters.forbidden_aggs)))
    for trait_ids in filters.required:
        stmt = stmt.where(RP.c.id.in_(_with_traits(trait_ids)))
    if filters.forbidden_traits:
        stmt = stmt.where(
            RP.c.id.not_in(_with_traits(filters.forbidden_traits)))
    for rc_id, amount in sorted(filters.resources.items()):
        stmt = stmt.where(RP.c.id.in_(_with_capacity(rc_id, amount)))
    return ctx.session.execute(stmt.order_by(RP.c.id)).all()
