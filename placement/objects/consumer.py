"""Consumers and the project/user/consumer-type rows they point at.

Every function here runs inside the caller's transaction (``ctx.session``):
a claim ensures its projects, users and types, reads and writes its
consumers in the same transaction that writes the allocations, so a
failed write rolls everything back and no cleanup is ever needed.
"""

import collections

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql

CONSUMER = models.CONSUMER
PROJECT = models.PROJECT
USER = models.USER
CONSUMER_TYPE = models.CONSUMER_TYPE

# The name GET shows (and /usages groups under) for untyped consumers.
UNKNOWN_TYPE = 'unknown'


Consumer = collections.namedtuple('Consumer', 'id generation')


class Found(object):
    """What a claim reads in one round trip: {external id: id} of
    ``projects`` and ``users``, {name: id} of consumer ``types`` and
    custom resource ``classes``, and {uuid: Consumer} of the
    ``consumers`` that exist."""

    def __init__(self):
        self.projects = {}
        self.users = {}
        self.types = {}
        self.classes = {}
        self.consumers = {}


# (attribute of Found, table, key column) in UNION branch order.
_LOOKUPS = (('projects', PROJECT, 'external_id'),
            ('users', USER, 'external_id'),
            ('types', CONSUMER_TYPE, 'name'),
            ('classes', models.RC, 'name'),
            ('consumers', CONSUMER, 'uuid'))


def lookup(ctx, projects, users, types, classes, uuids):
    """One UNION ALL statement reading the ids of ``projects``, ``users``,
    ``types`` and custom ``classes`` and the consumers among ``uuids``
    (absent names are simply missing from the Found)."""
    wanted = [sorted(set(n for n in names if n is not None))
              for names in (projects, users, types, classes, uuids)]
    parts, params = [], []
    for kind, ((_attr, table, column), names) in enumerate(
            zip(_LOOKUPS, wanted)):
        if names:
            generation = 'generation' if table is CONSUMER else '0'
            parts.append('SELECT {k}, {c}, id, {g} FROM {t} WHERE {c} IN ({m})'
                         .format(k=kind, c=column, g=generation,
                                 t=table.name, m=sql.marks(len(names))))
            params.extend(names)
    found = Found()
    if not parts:
        return found
    conn = sql.connection(ctx)
    maps = [getattr(found, attr) for attr, _t, _c in _LOOKUPS]
    for kind, key, row_id, generation in sql.execute(
            conn, ' UNION ALL '.join(parts), params):
        maps[kind][key] = (Consumer(row_id, generation) if kind == 4
                           else row_id)
    return found


def touch_projects_and_users(ctx, projects, users):
    """Insert-or-ignore the project and user rows, before any read. Every
    allocation writer does this (the audit fix, which deletes unused
    projects and users, relies on it: on MySQL the insert holds the
    existing row's unique key until we commit; on PostgreSQL it takes the
    ROW EXCLUSIVE lock the fix's SHARE lock waits for), and on MySQL a row
    another transaction committed while our insert waited is then in our
    snapshot, which begins at the first read."""
    sql.insert_ignore_each(sql.connection(ctx), [
        (table, ('external_id',),
         [(name,) for name in sorted(set(n for n in names
                                         if n is not None))])
        for table, names in (('projects', projects), ('users', users))])


def ensure_references(ctx, found, projects, users, types):
    """Insert the projects, users and consumer types ``found`` lacks
    (insert-ignore: race-free) and read their ids with a locking read,
    which sees rows other transactions committed after our snapshot
    began (MySQL) while our insert waited on them."""
    for (attr, table, column), names in zip(
            _LOOKUPS, (projects, users, types)):
        have = getattr(found, attr)
        missing = sorted(set(n for n in names
                             if n is not None and n not in have))
        if not missing:
            continue
        db_api.insert_ignore_duplicates(
            ctx.session, table, [{column: name} for name in missing])
        col = table.c[column]
        have.update(ctx.session.execute(
            sa.select(col, table.c.id).where(col.in_(missing))
            .with_for_update(read=True)).all())


def get_by_uuids(ctx, uuids):
    """{uuid: Consumer} of the consumers among ``uuids`` that exist."""
    if not uuids:
        return {}
    uuids = sorted(set(uuids))
    return {row[0]: Consumer(row[1], row[2]) for row in sql.execute(
        sql.connection(ctx), 'SELECT uuid, id, generation FROM consumers '
        'WHERE uuid IN (' + sql.marks(len(uuids)) + ')', uuids)}


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
    conn = sql.connection(ctx)
    sql.execute(
        conn, 'INSERT INTO consumers (uuid, project_id, user_id, '
        'consumer_type_id, generation, created_at) '
        'VALUES (%s, %s, %s, %s, %s, %s)',
        (uuid, project_id, user_id, consumer_type_id, generation,
         sql.now(conn)))


def compare_and_set(ctx, consumer_id, seen_generation, project_id, user_id,
                    **values):
    """``generation = seen + 1`` (plus project, user and, when given,
    ``consumer_type_id``) only if nobody changed or deleted the consumer
    since we read it; False if someone did."""
    conn = sql.connection(ctx)
    params = [seen_generation + 1, project_id, user_id]
    type_clause = ''
    if 'consumer_type_id' in values:
        type_clause = ', consumer_type_id = %s'
        params.append(values['consumer_type_id'])
    params += [sql.now(conn), consumer_id, seen_generation]
    result = sql.execute(
        conn, 'UPDATE consumers SET generation = %s, project_id = %s, '
        'user_id = %s' + type_clause + ', updated_at = %s '
        'WHERE id = %s AND generation = %s', params)
    return result.rowcount == 1


def compare_and_delete(ctx, consumer_id, seen_generation):
    """Delete the consumer only if it is still at ``seen_generation``."""
    result = sql.execute(
        sql.connection(ctx),
        'DELETE FROM consumers WHERE id = %s AND generation = %s',
        (consumer_id, seen_generation))
    return result.rowcount == 1


def delete_by_uuid(ctx, uuid):
    """Delete consumer ``uuid`` (taking its row lock first so allocation
    writers racing with us either finish before or fail their CAS)."""
    ctx.session.execute(sa.delete(CONSUMER).where(CONSUMER.c.uuid == uuid))
