"""Allocations: the claim (replace-all write shared by PUT/POST
/allocations and the reshaper), deletion, and reads.

Concurrency design (why no in-process lock and no cleanup):

* One transaction per attempt does everything, in a handful of
  statements: row-lock the providers named (``SELECT ... FOR UPDATE``,
  id order: concurrent claims on a provider queue instead of failing
  their CAS and retrying; it decides nothing), insert-or-ignore the
  project and user, read the ids of projects, users, types and custom
  classes and the consumers (one UNION ALL), read the providers'
  generations with their inventory and usage (one statement, one
  snapshot), check generations and capacity, create or
  compare-and-set each consumer, compare-and-set every provider whose
  generation must move (``UPDATE ... WHERE generation = :seen``), replace
  the allocation rows and delete consumers left empty.
* Every writer that can raise a provider's usage or change its inventory
  bumps its generation with a CAS, so a CAS that succeeds proves the
  usage/inventory we checked is still current; a failed CAS (or a
  deadlock) rolls back and retries from scratch, at most
  ``[placement] allocation_conflict_retry_count`` times.
* A new consumer is INSERTed inside the write; a concurrent creator hits
  the unique key and gets a 409. Failure rolls the row back, so no
  consumer row is ever deleted behind another transaction's back.
"""

import collections

from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.db import sql
from placement import exception
from placement import metrics
from placement.objects import consumer as consumer_obj
from placement.objects import inventory as inv_obj
from placement.objects import resource_class as rc_obj
from placement.objects import resource_provider as rp_obj

LOG = logging.getLogger(__name__)

ALLOC = models.ALLOC
INV = models.INV
RP = models.RP
CONSUMER = models.CONSUMER

# ``ConsumerRequest.generation`` when the client sent none (< 1.28).
UNCHECKED = object()

# Upstream's wording: the stored generation (``null`` when absent), then
# the one sent (Python-style, ``None`` for null).
CONSUMER_CONFLICT = 'consumer generation conflict - expected %s but got %s'


class ConsumerGenerationConflict(exception.ConcurrentUpdateDetected):
    """The consumer is not at the generation the request expected."""

    def __init__(self, consumer_uuid, sent, current):
        self.consumer_uuid = consumer_uuid
        self.sent = sent
        self.current = current
        stored = 'null' if current is None else current
        super().__init__(CONSUMER_CONFLICT % (stored, sent))


class ConsumerRace(exception.ConcurrentUpdateDetected):
    """Another transaction changed the consumer between our read and our
    compare-and-set (or created it first)."""

    def __init__(self, consumer_uuid, seen):
        self.consumer_uuid = consumer_uuid
        self.seen = seen
        super().__init__()


class ProviderRace(exception.ResourceProviderConcurrentUpdateDetected):
    """A provider's generation moved between our read and our CAS."""

    def __init__(self, rp_uuid, seen):
        self.rp_uuid = rp_uuid
        self.seen = seen
        super().__init__()


class RetriesExhausted(exception.ConcurrentUpdateDetected):
    """Provider races (or deadlocks) persisted through every retry."""

    def __init__(self, rp_uuid=None, seen=None):
        self.rp_uuid = rp_uuid
        self.seen = seen
        super().__init__()


class ProviderMissing(exception.NotFound):
    msg_fmt = ("Allocation for resource provider '%(uuid)s' that does not "
               "exist.")


class InvalidAllocation(exception.Conflict):
    """An amount does not fit the provider's inventory (409)."""

    NO_INVENTORY = 'no_inventory'
    CONSTRAINTS = 'constraints'
    CAPACITY = 'capacity'

    def __init__(self, reason, rp_uuid, rc_name, requested=None, used=None,
                 capacity=None):
        self.reason = reason
        self.rp_uuid = rp_uuid
        self.rc_name = rc_name
        self.requested = requested
        self.used = used
        self.capacity = capacity
        if reason == self.NO_INVENTORY:
            message = ("Inventory for '%s' on resource provider '%s' "
                       "invalid." % (rc_name, rp_uuid))
        elif reason == self.CONSTRAINTS:
            message = ("Unable to create allocation for '%s' on resource "
                       "provider '%s'. The requested amount would violate "
                       "inventory constraints." % (rc_name, rp_uuid))
        else:
            message = ("Unable to create allocation for '%s' on resource "
                       "provider '%s'. The requested amount would exceed "
                       "the capacity." % (rc_name, rp_uuid))
        super().__init__(message)


class ConsumerRequest(object):
    """The requested new state of one consumer.

    ``allocations`` is {rp uuid: {rc name: amount}}; ``generation`` the
    client's expectation (None = "no allocations yet", UNCHECKED below
    1.28); ``consumer_type`` None leaves an existing type alone.
    ``keep_empty`` mirrors upstream's PUT corner case: an empty write for
    an absent consumer leaves a generation-0 consumer behind.
    """

    def __init__(self, uuid, project_id, user_id, allocations,
                 generation=UNCHECKED, consumer_type=None, keep_empty=False):
        self.uuid = uuid
        self.project_id = project_id
        self.user_id = user_id
        self.allocations = allocations
        self.generation = generation
        self.consumer_type = consumer_type
        self.keep_empty = keep_empty


def _retryable(exc):
    """Provider races, and the database races of db_api's retry policy
    (deadlocks, Galera certification failures, SQLite's busy lock; also
    when a shared helper such as inventory.py's ``db_races_as_conflict``
    already turned the database error into a ConcurrentUpdateDetected:
    its cause decides)."""
    return (isinstance(exc, exception.ResourceProviderConcurrentUpdateDetected)
            or db_api.is_deadlock(exc))


def run_with_retries(ctx, func, *args):
    """Run ``func(ctx, *args)`` in a fresh writer transaction, retrying on
    provider-generation races and deadlocks only (each retry re-reads
    everything)."""
    retries = max(0, ctx.config.placement.allocation_conflict_retry_count)
    last = None
    for attempt in range(retries + 1):
        try:
            with db_api.context_manager.writer.using(ctx):
                _read_latest(ctx)
                result = func(ctx, *args)
            metrics.allocation_write('committed', attempt)
            return result
        except Exception as exc:
            if not _retryable(exc):
                metrics.allocation_write('rejected', attempt)
                raise
            last = exc
            LOG.debug('Retrying allocation write (attempt %d): %s',
                      attempt + 1, exc)
            if attempt < retries:
                db_api.backoff(attempt)
    metrics.allocation_write('retries_exhausted', retries)
    raise RetriesExhausted(getattr(last, 'rp_uuid', None),
                           getattr(last, 'seen', None))


# Set in a session's info when its transaction reads the latest commits
# with every statement (see _read_latest).
_READS_LATEST = 'placement_reads_latest'


def _read_latest(ctx):
    """Make the write attempt's transaction READ COMMITTED on MySQL and
    MariaDB, as it is on PostgreSQL: every read then sees the latest
    commits, so a lost consumer generation can be refused before any
    lock is taken (see _refuse_lost_generations). The first statement
    of the transaction (it applies to that one transaction only); the
    compare-and-sets decide as on any isolation level. SQLite
    serialises its writers."""
    conn = sql.connection(ctx)
    sql.read_committed(conn)
    if conn.dialect.name != 'sqlite':
        ctx.session.info[_READS_LATEST] = True


def replace_all(ctx, requests):
    """Atomically set the allocations of every consumer in ``requests``."""
    run_with_retries(ctx, write_allocations, requests)


def _check_generations(requests, consumers):
    for req in requests:
        if req.generation is UNCHECKED:
            continue
        row = consumers.get(req.uuid)
        current = row.generation if row is not None else None
        if current != req.generation:
            raise ConsumerGenerationConflict(req.uuid, req.generation,
                                             current)


def _refuse_lost_generations(ctx, requests):
    """Refuse, before taking any lock, a consumer generation that has
    already lost: when many clients merge into one consumer, the losers
    then neither queue for the providers' row locks nor hold the winner
    up. Only where every statement reads the latest commits (READ
    COMMITTED, see _read_latest): in a REPEATABLE READ transaction a plain
    read before the locks would pin its snapshot too early (see
    _lock_providers). Passing decides nothing; the check after the locks
    and the CAS still do.
    A first write (generation null) skips it: it costs nova's ordinary
    claim a statement and rarely loses."""
    sent = [r for r in requests
            if r.generation is not UNCHECKED and r.generation is not None]
    if sent:
        # Before the transaction proper: a refused write (most writes,
        # when many clients merge into one consumer) then costs no
        # BEGIN and ROLLBACK on PostgreSQL.
        with sql.before_transaction(sql.connection(ctx)):
            consumers = consumer_obj.get_by_uuids(ctx, [r.uuid for r in sent])
        _check_generations(sent, consumers)


def _ordered(values):
    """``values`` without repeats, first occurrence first."""
    return list(dict.fromkeys(values))


def _lock_providers(conn, rp_uuids):
    """Row-lock the named providers (in id order) before anything else:
    concurrent claims on a provider then queue here instead of all
    failing their compare-and-set and retrying. Only a speed-up: the CAS
    below still decides. As the transaction's first read it also lets
    MySQL's snapshot begin after the locks were granted, so what we read
    next is current."""
    if rp_uuids and conn.dialect.name != 'sqlite':
        sql.execute(conn, 'SELECT id FROM resource_providers WHERE uuid IN '
                    '(' + sql.marks(len(rp_uuids)) + ') ORDER BY id' +
                    sql.for_update(conn), rp_uuids).fetchall()


_OLD_SQL = ('SELECT a.consumer_id, a.resource_provider_id, '
            'a.resource_class_id, a.used, p.uuid, p.generation '
            'FROM allocations a JOIN resource_providers p '
            'ON p.id = a.resource_provider_id WHERE a.consumer_id IN ({m}) '
            'ORDER BY a.id')


def _existing_allocations(conn, uuids):
    """(consumer uuid, rp id, rc id, used, rp uuid, rp generation) of the
    allocations the consumers ``uuids`` hold."""
    if not uuids:
        return []
    return sql.execute(conn, _OLD_SQL.format(m=sql.marks(len(uuids))),
                       uuids).fetchall()


_CAPACITY_SQL = (
    'SELECT p.id, p.uuid, p.generation, i.resource_class_id, i.total, '
    'i.reserved, i.min_unit, i.max_unit, i.step_size, {ratio}, '
    '(SELECT SUM(a.used) FROM allocations a '
    'WHERE a.resource_provider_id = p.id '
    'AND a.resource_class_id = i.resource_class_id) '
    'FROM resource_providers p LEFT JOIN inventories i '
    'ON i.resource_provider_id = p.id AND i.resource_class_id IN ({rcs}) '
    'WHERE p.uuid IN ({rps})')


def _read_providers(conn, rp_uuids, rc_ids):
    """One statement: every named provider's id and generation, with its
    inventory of the classes ``rc_ids`` and the current usage of each (one
    snapshot, so the generation CAS later proves the usage is still
    current). Returns ({uuid: (id, uuid, generation)}, {(rp id, rc id):
    inventory row})."""
    if not rp_uuids:
        return {}, {}
    statement = _CAPACITY_SQL.format(
        ratio=inv_obj.ratio_sql(conn.dialect.name, 'i.allocation_ratio'),
        rcs=sql.marks(len(rc_ids)) if rc_ids else 'NULL',
        rps=sql.marks(len(rp_uuids)))
    providers, inventories = {}, {}
    for row in sql.execute(conn, statement, list(rc_ids) + list(rp_uuids)):
        providers[row[1]] = row[:3]
        if row[3] is not None:
            inventories[(row[0], row[3])] = row
    return providers, inventories


def _check_capacity(wanted, own, inventories, rp_uuids, rc_names):
    """Check every (provider, class) of the new allocations against the
    inventory and usage read with the provider generations."""
    for key, amounts in wanted.items():
        rp_uuid = rp_uuids[key[0]]
        rc_name = rc_names[key[1]]
        inv = inventories.get(key)
        if inv is None:
            raise InvalidAllocation(InvalidAllocation.NO_INVENTORY, rp_uuid,
                                    rc_name)
        _i, _u, _g, _rc, total, reserved, min_unit, max_unit, step, ratio, \
            used = inv
        for amount in amounts:
            if amount < min_unit or amount > max_unit or amount % step:
                raise InvalidAllocation(InvalidAllocation.CONSTRAINTS,
                                        rp_uuid, rc_name, requested=amount)
        cap = inv_obj.capacity(total, reserved, ratio)
        before = int(used or 0)
        others = before - own.get(key, 0)
        after = others + sum(amounts)
        # An over-committed provider still accepts writes that do not
        # raise its usage.
        if after > cap and not (before > cap and after <= before):
            raise InvalidAllocation(InvalidAllocation.CAPACITY, rp_uuid,
                                    rc_name, requested=sum(amounts),
                                    used=others, capacity=cap)


def _class_ids(requests, found):
    """({name: id} of the known classes named, the first unknown name or
    None)."""
    ids, unknown = {}, None
    for req in requests:
        for resources in req.allocations.values():
            for name in resources:
                if name in ids:
                    continue
                rc_id = rc_obj.standard_id(name)
                if rc_id is None:
                    rc_id = found.classes.get(name)
                if rc_id is not None:
                    ids[name] = rc_id
                elif unknown is None:
                    unknown = name
    return ids, unknown


def write_allocations(ctx, requests, known_generations=None):
    """The claim, inside the caller's writer transaction (see module
    docstring). Errors, in the order the API reports them: consumer
    generation (409), unknown provider (400), unknown class (400),
    inventory/capacity (409); races raise ConsumerRace / ProviderRace.

    Statements for a new consumer: insert-or-ignore project and user
    (one statement on PostgreSQL), lock the providers, read ids and
    consumers (one UNION), read providers + inventory + usage (one),
    insert the consumer, CAS the provider, insert the allocations. A
    write with a generation reads it first (see
    _refuse_lost_generations).

    ``known_generations`` ({rp id: generation}) overrides what is read
    for providers the caller already checked or wrote in this transaction
    (the reshaper), so every compare-and-set descends from the client's
    generation check even on READ COMMITTED databases. Returns {rp id: new
    generation} of the providers bumped."""
    conn = sql.connection(ctx)
    if ctx.session.info.get(_READS_LATEST):
        _refuse_lost_generations(ctx, requests)
    # Before the provider locks: claims on one provider queue for its
    # row, so what can be done before is not done while holding it.
    consumer_obj.touch_projects_and_users(
        ctx, [r.project_id for r in requests], [r.user_id for r in requests])
    rp_uuids = _ordered(u for r in requests for u in r.allocations)
    _lock_providers(conn, rp_uuids)
    uuids = [r.uuid for r in requests]
    found = consumer_obj.lookup(
        ctx, [r.project_id for r in requests], [r.user_id for r in requests],
        [r.consumer_type for r in requests],
        [n for r in requests for res in r.allocations.values() for n in res
         if not rc_obj.is_standard(n)], uuids)
    consumers = found.consumers
    _check_generations(requests, consumers)
    consumer_obj.ensure_references(
        ctx, found, [r.project_id for r in requests],
        [r.user_id for r in requests], [r.consumer_type for r in requests])
    rc_ids, unknown_class = _class_ids(requests, found)
    providers, inventories = _read_providers(conn, rp_uuids, rc_ids.values())
    for rp_uuid in rp_uuids:
        if rp_uuid not in providers:
            raise ProviderMissing(uuid=rp_uuid)
    if unknown_class is not None:
        raise exception.ResourceClassNotFound(name=unknown_class)
    old = _existing_allocations(conn, sorted(consumers))

    rp_uuid_of = {p[0]: p[1] for p in providers.values()}
    generations = {p[0]: p[2] for p in providers.values()}
    own = collections.Counter()
    for _c, rp_id, rc_id, used, rp_uuid, generation in old:
        own[(rp_id, rc_id)] += used
        rp_uuid_of.setdefault(rp_id, rp_uuid)
        generations.setdefault(rp_id, generation)
    for rp_id, generation in (known_generations or {}).items():
        if rp_id in generations:
            generations[rp_id] = generation
    wanted = collections.OrderedDict()
    new_rows = []
    to_bump = set()
    for req in requests:
        for rp_uuid, resources in req.allocations.items():
            rp_id = providers[rp_uuid][0]
            to_bump.add(rp_id)
            for rc_name, amount in resources.items():
                rc_id = rc_ids[rc_name]
                wanted.setdefault((rp_id, rc_id), []).append(amount)
                new_rows.append((rp_id, req.uuid, rc_id, amount))
        if not req.allocations:
            # Clearing a consumer bumps the providers it leaves.
            to_bump.update(row[1] for row in old if row[0] == req.uuid)
    if wanted:
        try:
            _check_capacity(wanted, own, inventories, rp_uuid_of,
                            {v: k for k, v in rc_ids.items()})
        except InvalidAllocation:
            if old:
                _raise_if_changed(ctx, uuids, consumers, rp_uuid_of,
                                  generations)
            raise

    # Locks in a global order: the named providers (above), consumers by
    # uuid, then the providers only left behind.
    for req in sorted(requests, key=lambda r: r.uuid):
        _write_consumer(ctx, req, consumers.get(req.uuid), found)
    bumped = {}
    for rp_id in sorted(to_bump):
        try:
            bumped[rp_id] = rp_obj.increment_generation(
                ctx, rp_id, generations[rp_id])
        except exception.ResourceProviderConcurrentUpdateDetected:
            raise ProviderRace(rp_uuid_of[rp_id], generations[rp_id])

    if old:
        sql.execute(conn, 'DELETE FROM allocations WHERE consumer_id IN (' +
                    sql.marks(len(consumers)) + ')', sorted(consumers))
    if new_rows:
        created = sql.now(conn)
        sql.execute(
            conn, 'INSERT INTO allocations (resource_provider_id, '
            'consumer_id, resource_class_id, used, created_at) VALUES ' +
            ', '.join(['(%s, %s, %s, %s, %s)'] * len(new_rows)),
            [v for row in new_rows for v in row + (created,)])
    return bumped


def _raise_if_changed(ctx, uuids, consumers, rp_uuid_of, generations):
    """Blame a race, not the request, for a failed capacity check when
    what we read first has changed since: on READ COMMITTED (PostgreSQL)
    each statement sees the latest commits, so the check may have mixed
    another writer's new usage with our old view of the consumers (a
    racer taking over a consumer's resources would see "capacity"). A
    moved provider retries (the next attempt reports the real reason);
    a changed consumer is a ConsumerRace. On snapshot databases nothing
    changes and the capacity error stands. (Only needed when the
    consumers held allocations: a new consumer's check reads its
    providers' usage and generations in one statement.)"""
    rp_ids = sorted(rp_uuid_of)
    now = dict(ctx.session.execute(
        sa.select(RP.c.id, RP.c.generation).where(RP.c.id.in_(rp_ids))).all())
    for rp_id in rp_ids:
        if now.get(rp_id) != generations[rp_id]:
            raise ProviderRace(rp_uuid_of[rp_id], generations[rp_id])
    fresh = consumer_obj.get_by_uuids(ctx, uuids)
    for uuid in sorted(set(uuids)):
        before, after = consumers.get(uuid), fresh.get(uuid)
        seen = before.generation if before is not None else None
        if seen != (after.generation if after is not None else None):
            raise ConsumerRace(uuid, seen)


def _write_consumer(ctx, req, row, found):
    """Create, compare-and-set or (when emptied) delete one consumer."""
    values = {'project_id': found.projects[req.project_id],
              'user_id': found.users[req.user_id]}
    if req.consumer_type is not None:
        values['consumer_type_id'] = found.types[req.consumer_type]
    if row is None:
        if not req.allocations and not req.keep_empty:
            return
        # First write of a new consumer: generation 0 + 1, except the
        # empty corner case, which stays at 0.
        values.setdefault('consumer_type_id', None)
        try:
            consumer_obj.insert(ctx, req.uuid,
                                generation=1 if req.allocations else 0,
                                **values)
        except db_exc.DBDuplicateEntry:
            # Someone created it since we looked: they won.
            raise ConsumerRace(req.uuid, None)
        return
    if req.allocations:
        ok = consumer_obj.compare_and_set(ctx, row.id, row.generation,
                                          **values)
    else:
        ok = consumer_obj.compare_and_delete(ctx, row.id, row.generation)
    if not ok:
        raise ConsumerRace(req.uuid, row.generation)


def _delete_for_consumer(ctx, uuid):
    # The consumer row first: its lock orders us after (or before) any
    # writer of this consumer, so no allocation can outlive its consumer.
    consumer_obj.delete_by_uuid(ctx, uuid)
    deleted = ctx.session.execute(
        sa.delete(ALLOC).where(ALLOC.c.consumer_id == uuid)).rowcount
    if not deleted:
        raise exception.NotFound(
            "No allocations for consumer '%s'" % uuid)


def delete_for_consumer(ctx, uuid):
    """Delete every allocation of ``uuid`` and the consumer; NotFound when
    it has none. Provider generations are not touched."""
    run_with_retries(ctx, _delete_for_consumer, uuid)


# The consumer's project, user and type (and each class name) by scalar
# subquery rather than by join: one row each either way, but PostgreSQL
# plans a seven-table join for longer (~0.4 ms) than it runs it (and
# plans this one once per connection: sql.execute_prepared).
_CONSUMER_ALLOCATIONS_SQL = (
    'SELECT a.resource_class_id, a.used, a.created_at, a.updated_at, '
    'p.uuid AS rp_uuid, p.generation AS rp_generation, c.generation, '
    '(SELECT external_id FROM projects WHERE id = c.project_id) '
    'AS project_id, '
    '(SELECT external_id FROM users WHERE id = c.user_id) AS user_id, '
    '(SELECT name FROM consumer_types WHERE id = c.consumer_type_id) '
    'AS consumer_type, '
    '(SELECT name FROM resource_classes WHERE id = a.resource_class_id) '
    'AS rc_name '
    'FROM allocations a '
    'JOIN resource_providers p ON p.id = a.resource_provider_id '
    'LEFT JOIN consumers c ON c.uuid = a.consumer_id '
    'WHERE a.consumer_id = %s ORDER BY a.id')
# Typed, so that SQLite's text timestamps come back as datetimes.
_CONSUMER_ALLOCATIONS = sa.text(
    _CONSUMER_ALLOCATIONS_SQL.replace('%s', ':uuid')).columns(
        created_at=sa.DateTime, updated_at=sa.DateTime)


@db_api.context_manager.reader
def get_for_consumer(ctx, uuid):
    """Allocation rows of consumer ``uuid``, each with its provider's uuid
    and generation and the consumer's generation, project, user and type,
    and {class id: name}. One statement, so on READ COMMITTED databases
    the allocations and the consumer generation come from one snapshot
    (a client merging them must never pair old allocations with a newer
    generation)."""
    conn = sql.connection(ctx)
    with sql.before_transaction(conn):
        if conn.dialect.name == 'sqlite':
            rows = ctx.session.execute(_CONSUMER_ALLOCATIONS,
                                       {'uuid': uuid}).all()
        else:
            rows = sql.execute_prepared(
                ctx, conn, 'placement_consumer_allocations',
                _CONSUMER_ALLOCATIONS_SQL, (uuid,)).all()
    # Class names read in the same statement (standard classes have rows
    # too), so a consumer of custom classes costs no second query.
    names = {r.resource_class_id: r.rc_name for r in rows
             if r.rc_name is not None}
    missing = {r.resource_class_id for r in rows} - set(names)
    if missing:
        names.update(rc_obj.names_from_ids(ctx, missing))
    return rows, names


@db_api.context_manager.reader
def get_for_provider(ctx, rp_id):
    """Allocation rows of provider ``rp_id`` with consumer generations, and
    the class names they use."""
    rows = ctx.session.execute(
        sa.select(ALLOC.c.consumer_id, ALLOC.c.resource_class_id,
                  ALLOC.c.used, ALLOC.c.created_at, ALLOC.c.updated_at,
                  CONSUMER.c.generation.label('consumer_generation'))
        .select_from(ALLOC.outerjoin(
            CONSUMER, ALLOC.c.consumer_id == CONSUMER.c.uuid))
        .where(ALLOC.c.resource_provider_id == rp_id)
        .order_by(ALLOC.c.id)).all()
    names = rc_obj.names_from_ids(ctx, {r.resource_class_id for r in rows})
    return rows, names


@db_api.context_manager.reader
def provider_generation(ctx, rp_uuid):
    """A provider's current generation (fresh read) or None."""
    return ctx.session.execute(
        sa.select(RP.c.generation).where(RP.c.uuid == rp_uuid)).scalar()
