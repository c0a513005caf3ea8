"""Allocations: the claim (replace-all write shared by PUT/POST
/allocations and the reshaper), deletion, and reads.

Concurrency design (why there is no lock and no cleanup):

* One transaction per attempt does everything: ensure project/user/type
  rows, read consumers, providers (with generations), existing
  allocations and usage, check generations and capacity, create or
  compare-and-set each consumer, compare-and-set every provider whose
  generation must move (sorted by id, to avoid deadlocks), replace the
  allocation rows and delete consumers left empty.
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
from placement import exception
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
                return func(ctx, *args)
        except Exception as exc:
            if not _retryable(exc):
                raise
            last = exc
            LOG.debug('Retrying allocation write (attempt %d): %s',
                      attempt + 1, exc)
            if attempt < retries:
                db_api.backoff(attempt)
    raise RetriesExhausted(getattr(last, 'rp_uuid', None),
                           getattr(last, 'seen', None))


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


def _providers(ctx, requests):
    """{uuid: row(id, uuid, generation)} of every provider named, in body
    order; ProviderMissing for the first unknown one."""
    wanted = []
    for req in requests:
        for rp_uuid in req.allocations:
            if rp_uuid not in wanted:
                wanted.append(rp_uuid)
    if not wanted:
        return {}
    rows = ctx.session.execute(
        sa.select(RP.c.id, RP.c.uuid, RP.c.generation)
        .where(RP.c.uuid.in_(wanted)))
    found = {row.uuid: row for row in rows}
    for rp_uuid in wanted:
        if rp_uuid not in found:
            raise ProviderMissing(uuid=rp_uuid)
    return found


def _class_ids(ctx, requests):
    names = []
    for req in requests:
        for resources in req.allocations.values():
            names.extend(n for n in resources if n not in names)
    ids = rc_obj.ids_from_names(ctx, names)
    for name in names:
        if name not in ids:
            raise exception.ResourceClassNotFound(name=name)
    return ids


def _existing_allocations(ctx, uuids):
    return ctx.session.execute(
        sa.select(ALLOC.c.consumer_id, ALLOC.c.resource_provider_id,
                  ALLOC.c.resource_class_id, ALLOC.c.used,
                  RP.c.uuid, RP.c.generation)
        .select_from(ALLOC.join(RP, ALLOC.c.resource_provider_id == RP.c.id))
        .where(ALLOC.c.consumer_id.in_(uuids))
        .order_by(ALLOC.c.id)).all()


def _check_capacity(ctx, wanted, own, rps_by_id, rc_names):
    """Check every (provider, class) of the new allocations against the
    inventory and current usage (read after the provider generations, so
    the later CAS proves they are still current)."""
    rp_ids = sorted(set(rp_id for rp_id, _rc in wanted))
    inventories = {
        (row.resource_provider_id, row.resource_class_id): row
        for row in ctx.session.execute(
            sa.select(*inv_obj.columns())
            .where(INV.c.resource_provider_id.in_(rp_ids)))}
    usage = {
        (row.resource_provider_id, row.resource_class_id): int(row.used)
        for row in ctx.session.execute(
            sa.select(ALLOC.c.resource_provider_id, ALLOC.c.resource_class_id,
                      sa.func.sum(ALLOC.c.used).label('used'))
            .where(ALLOC.c.resource_provider_id.in_(rp_ids))
            .group_by(ALLOC.c.resource_provider_id,
                      ALLOC.c.resource_class_id))}
    for key, amounts in wanted.items():
        rp_uuid = rps_by_id[key[0]].uuid
        rc_name = rc_names[key[1]]
        inv = inventories.get(key)
        if inv is None:
            raise InvalidAllocation(InvalidAllocation.NO_INVENTORY, rp_uuid,
                                    rc_name)
        for amount in amounts:
            if (amount < inv.min_unit or amount > inv.max_unit or
                    amount % inv.step_size):
                raise InvalidAllocation(InvalidAllocation.CONSTRAINTS,
                                        rp_uuid, rc_name, requested=amount)
        cap = inv_obj.capacity(inv.total, inv.reserved, inv.allocation_ratio)
        before = usage.get(key, 0)
        others = before - own.get(key, 0)
        after = others + sum(amounts)
        # An over-committed provider still accepts writes that do not
        # raise its usage.
        if after > cap and not (before > cap and after <= before):
            raise InvalidAllocation(InvalidAllocation.CAPACITY, rp_uuid,
                                    rc_name, requested=sum(amounts),
                                    used=others, capacity=cap)


def write_allocations(ctx, requests, known_generations=None):
    """The claim, inside the caller's writer transaction (see module
    docstring). Errors, in the order the API reports them: consumer
    generation (409), unknown provider (400), unknown class (400),
    inventory/capacity (409); races raise ConsumerRace / ProviderRace.

    ``known_generations`` ({rp id: generation}) overrides what is read
    for providers the caller already checked or wrote in this transaction
    (the reshaper), so every compare-and-set descends from the client's
    generation check even on READ COMMITTED databases. Returns {rp id: new
    generation} of the providers bumped."""
    # Insert-ignore first: on MySQL the snapshot starts at the first read.
    projects, users, types = consumer_obj.ensure_references(
        ctx, [r.project_id for r in requests], [r.user_id for r in requests],
        [r.consumer_type for r in requests])
    uuids = [r.uuid for r in requests]
    consumers = consumer_obj.get_by_uuids(ctx, uuids)
    _check_generations(requests, consumers)
    rps = _providers(ctx, requests)
    rc_ids = _class_ids(ctx, requests)
    old = _existing_allocations(ctx, uuids)

    rps_by_id = {row.id: row for row in rps.values()}
    generations = {row.id: row.generation for row in rps.values()}
    own = collections.Counter()
    for row in old:
        own[(row.resource_provider_id, row.resource_class_id)] += row.used
        rps_by_id.setdefault(row.resource_provider_id, row)
        generations.setdefault(row.resource_provider_id, row.generation)
    for rp_id, generation in (known_generations or {}).items():
        if rp_id in generations:
            generations[rp_id] = generation
    wanted = collections.OrderedDict()
    new_rows = []
    to_bump = set()
    for req in requests:
        for rp_uuid, resources in req.allocations.items():
            rp_id = rps[rp_uuid].id
            to_bump.add(rp_id)
            for rc_name, amount in resources.items():
                rc_id = rc_ids[rc_name]
                wanted.setdefault((rp_id, rc_id), []).append(amount)
                new_rows.append({'consumer_id': req.uuid,
                                 'resource_provider_id': rp_id,
                                 'resource_class_id': rc_id, 'used': amount})
        if not req.allocations:
            # Clearing a consumer bumps the providers it leaves.
            to_bump.update(row.resource_provider_id for row in old
                           if row.consumer_id == req.uuid)
    if wanted:
        try:
            _check_capacity(ctx, wanted, own, rps_by_id,
                            {v: k for k, v in rc_ids.items()})
        except InvalidAllocation:
            _raise_if_changed(ctx, uuids, consumers, rps_by_id, generations)
            raise

    # Locks in a global order: consumers by uuid, then providers by id.
    for req in sorted(requests, key=lambda r: r.uuid):
        _write_consumer(ctx, req, consumers.get(req.uuid), projects, users,
                        types)
    bumped = {}
    for rp_id in sorted(to_bump):
        try:
            bumped[rp_id] = rp_obj.increment_generation(
                ctx, rp_id, generations[rp_id])
        except exception.ResourceProviderConcurrentUpdateDetected:
            raise ProviderRace(rps_by_id[rp_id].uuid, generations[rp_id])

    if old:
        ctx.session.execute(
            sa.delete(ALLOC).where(ALLOC.c.consumer_id.in_(uuids)))
    if new_rows:
        ctx.session.execute(sa.insert(ALLOC), new_rows)
    return bumped


def _raise_if_changed(ctx, uuids, consumers, rps_by_id, generations):
    """Blame a race, not the request, for a failed capacity check when
    what we read first has changed since: on READ COMMITTED (PostgreSQL)
    each statement sees the latest commits, so the check may have mixed
    another writer's new usage with our old view of the consumers (a
    racer taking over a consumer's resources would see "capacity"). A
    moved provider retries (the next attempt reports the real reason);
    a changed consumer is a ConsumerRace. On snapshot databases nothing
    changes and the capacity error stands."""
    rp_ids = sorted(rps_by_id)
    now = dict(ctx.session.execute(
        sa.select(RP.c.id, RP.c.generation).where(RP.c.id.in_(rp_ids))).all())
    for rp_id in rp_ids:
        if now.get(rp_id) != generations[rp_id]:
            raise ProviderRace(rps_by_id[rp_id].uuid, generations[rp_id])
    fresh = consumer_obj.get_by_uuids(ctx, uuids)
    for uuid in sorted(set(uuids)):
        before, after = consumers.get(uuid), fresh.get(uuid)
        seen = before.generation if before is not None else None
        if seen != (after.generation if after is not None else None):
            raise ConsumerRace(uuid, seen)


def _write_consumer(ctx, req, row, projects, users, types):
    """Create, compare-and-set or (when emptied) delete one consumer."""
    values = {'project_id': projects[req.project_id],
              'user_id': users[req.user_id]}
    if req.consumer_type is not None:
        values['consumer_type_id'] = types[req.consumer_type]
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


@db_api.context_manager.reader
def get_for_consumer(ctx, uuid):
    """Allocation rows of consumer ``uuid``, each with its provider's uuid
    and generation and the consumer's generation, project, user and type,
    and {class id: name}. One statement, so on READ COMMITTED databases
    the allocations and the consumer generation come from one snapshot
    (a client merging them must never pair old allocations with a newer
    generation)."""
    ctype = models.CONSUMER_TYPE
    rows = ctx.session.execute(
        sa.select(ALLOC.c.resource_class_id, ALLOC.c.used,
                  ALLOC.c.created_at, ALLOC.c.updated_at,
                  RP.c.uuid.label('rp_uuid'),
                  RP.c.generation.label('rp_generation'),
                  CONSUMER.c.generation,
                  models.PROJECT.c.external_id.label('project_id'),
                  models.USER.c.external_id.label('user_id'),
                  ctype.c.name.label('consumer_type'))
        .select_from(
            ALLOC.join(RP, ALLOC.c.resource_provider_id == RP.c.id)
            .outerjoin(CONSUMER, ALLOC.c.consumer_id == CONSUMER.c.uuid)
            .outerjoin(models.PROJECT,
                       CONSUMER.c.project_id == models.PROJECT.c.id)
            .outerjoin(models.USER, CONSUMER.c.user_id == models.USER.c.id)
            .outerjoin(ctype, CONSUMER.c.consumer_type_id == ctype.c.id))
        .where(ALLOC.c.consumer_id == uuid)
        .order_by(ALLOC.c.id)).all()
    names = rc_obj.names_from_ids(ctx, {r.resource_class_id for r in rows})
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
