"""Why no (or few) allocation candidates matched: a per-group funnel.

Opt-in per request (``OpenStack-Placement-Explain: 1``, policy
``placement:allocation_candidates:explain``) on ``GET
/allocation_candidates``. The search itself (candidate_engine) answers
which candidates exist; this module answers the operator's question
"where did every provider drop out?" with its own few set-based reads,
so requests that do not ask for it pay nothing.

The funnel is per request group and counts providers, each step keeping
the survivors of the previous one:

1. ``inventory``: has inventory of the group's classes (a granular group:
   every class; the unsuffixed group, which may spread over a tree: at
   least one);
2. ``capacity``: has room for the requested amount (same rule), with per
   class counts of providers that ran out, by capacity or by
   min_unit/max_unit/step_size constraints;
3. ``one_tree`` (unsuffixed group only): its tree, or sharing providers
   reachable through an aggregate, covers every requested class;
4. ``traits``: required (all-of and any-of) and forbidden traits (a
   granular group: the provider's own; the unsuffixed group: the union
   over the surviving providers of its tree, none forbidden on itself);
5. ``member_of``: required and forbidden aggregates (the unsuffixed
   group also accepts the root's aggregates, except for sharing
   providers);
6. ``tree``: ``in_tree`` and ``root_required``.

Then, request-wide: the trees that have a survivor of every group (the
anchors the search starts from), and the candidates that remained after
``same_subtree``, ``group_policy`` and the re-check of merged amounts.
For an empty answer, the nearest misses are a few providers that, taken
alone, fail exactly one filter of a group, and what they lack.

The work is bounded like the search: at most ``MAX_PROVIDERS`` providers
(in id order) are examined, and ``truncated`` says when more exist.
"""

import collections

import sqlalchemy as sa

from placement.db import models
from placement.objects import candidate_engine as engine
from placement.objects import capacity
from placement.objects import resource_class as rc_obj

RP = models.RP
INV = models.INV
TRAIT = models.TRAIT
RP_TRAIT = models.RP_TRAIT
RP_AGG = models.RP_AGG

HEADER = 'OpenStack-Placement-Explain'
SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'
MAX_PROVIDERS = 10000
MAX_MISSES = 5

FILTERS = ('inventory', 'capacity', 'one_tree', 'traits', 'member_of',
           'tree')


def requested(req):
    """Whether the request asks for an explanation (header value 1/true/
    yes, case-insensitive)."""
    value = req.headers.get(HEADER, '').strip().lower()
    return value in ('1', 'true', 'yes', 'on')


class _Provider(object):
    __slots__ = ('id', 'uuid', 'name', 'root_id', 'traits', 'aggs',
                 'inventories', 'sharing')

    def __init__(self, id, uuid, name, root_id):
        self.id = id
        self.uuid = uuid
        self.name = name
        self.root_id = root_id or id
        self.traits = set()
        self.aggs = set()
        self.inventories = {}
        self.sharing = False


def _load(ctx, rc_ids):
    """Providers (the first MAX_PROVIDERS by id) with traits, aggregates
    and the inventories of ``rc_ids`` (capacity and usage). Roots have
    smaller ids than their descendants, so every examined provider's
    root is examined too."""
    bound = ctx.session.execute(
        sa.select(RP.c.id).order_by(RP.c.id).offset(MAX_PROVIDERS)
        .limit(1)).scalar()
    truncated = bound is not None

    def within(column):
        return column < bound if truncated else sa.true()

    providers = {}
    for row in ctx.session.execute(
            sa.select(RP.c.id, RP.c.uuid, RP.c.name, RP.c.root_provider_id)
            .where(within(RP.c.id))):
        providers[row[0]] = _Provider(*row)
    for rp_id, trait_id in ctx.session.execute(
            sa.select(RP_TRAIT.c.resource_provider_id, RP_TRAIT.c.trait_id)
            .where(within(RP_TRAIT.c.resource_provider_id))):
        if rp_id in providers:
            providers[rp_id].traits.add(trait_id)
    for rp_id, agg_id in ctx.session.execute(
            sa.select(RP_AGG.c.resource_provider_id, RP_AGG.c.aggregate_id)
            .where(within(RP_AGG.c.resource_provider_id))):
        if rp_id in providers:
            providers[rp_id].aggs.add(agg_id)
    if rc_ids:
        usage = capacity.usage_subquery()
        rows = ctx.session.execute(
            sa.select(INV.c.resource_provider_id, INV.c.resource_class_id,
                      INV.c.total, INV.c.reserved, INV.c.min_unit,
                      INV.c.max_unit, INV.c.step_size,
                      capacity.ratio_column(),
                      sa.func.coalesce(usage.c.used, 0))
            .select_from(INV.outerjoin(usage, sa.and_(
                usage.c.resource_provider_id == INV.c.resource_provider_id,
                usage.c.resource_class_id == INV.c.resource_class_id)))
            .where(INV.c.resource_class_id.in_(sorted(rc_ids)))
            .where(within(INV.c.resource_provider_id)))
        for (rp_id, rc, total, reserved, min_unit, max_unit, step,
             ratio, used) in rows:
            if rp_id in providers:
                providers[rp_id].inventories[rc] = engine.Inventory(
                    capacity.capacity(total, reserved, ratio), int(used),
                    min_unit, max_unit, step)
    return providers, truncated


def _trait_names(ctx, ids):
    if not ids:
        return {}
    return dict(ctx.session.execute(
        sa.select(TRAIT.c.id, TRAIT.c.name)
        .where(TRAIT.c.id.in_(sorted(ids)))).all())


def _sharing_trait_id(ctx):
    return ctx.session.execute(
        sa.select(TRAIT.c.id).where(TRAIT.c.name == SHARING_TRAIT)).scalar()


def _shortfall(p, rc, amount):
    """Why ``p`` cannot serve ``amount`` of ``rc`` (None when it can)."""
    inv = p.inventories.get(rc)
    if inv is None:
        return 'no_inventory'
    if not (inv.min_unit <= amount <= inv.max_unit and
            amount % inv.step_size == 0):
        return 'constraints'
    if inv.used + amount > inv.capacity:
        return 'capacity'
    return None


class _GroupCheck(object):
    """One group's filters over the examined providers."""

    def __init__(self, group, providers, sharing_roots):
        self.group = group
        self.providers = providers
        # {sharing provider id: roots of the trees it can lend to}
        self.sharing_roots = sharing_roots

    def _serves(self, p):
        """Classes of the group ``p`` has room for."""
        return {rc for rc, amount in self.group.resources.items()
                if _shortfall(p, rc, amount) is None}

    def traits_missing(self, traits):
        return [term for term in self.group.required if not term & traits]

    def member_of_ok(self, p):
        aggs = set(p.aggs)
        if not self.group.granular and not p.sharing:
            aggs |= self.providers[p.root_id].aggs
        if self.group.forbidden_aggs & aggs:
            return False
        return all(term & aggs for term in self.group.member_of)

    def tree_ok(self, p, request):
        g = self.group
        if g.in_tree_root is not None and p.root_id != g.in_tree_root:
            return False
        root = self.providers[p.root_id]
        if request.root_required - root.traits:
            return False
        return not request.root_forbidden & root.traits

    def funnel(self, request):
        """[(filter, surviving provider ids)] and per class counts."""
        g = self.group
        everyone = sorted(self.providers)
        steps = []
        by_rc = collections.OrderedDict()
        if g.resources:
            for rc, amount in sorted(g.resources.items()):
                counts = {'with_inventory': 0, 'with_capacity': 0,
                          'exhausted': {'capacity': 0, 'constraints': 0}}
                for pid in everyone:
                    why = _shortfall(self.providers[pid], rc, amount)
                    if why is None:
                        counts['with_inventory'] += 1
                        counts['with_capacity'] += 1
                    elif why != 'no_inventory':
                        counts['with_inventory'] += 1
                        counts['exhausted'][why] += 1
                by_rc[rc] = counts
            need = set(g.resources)
            pick = all if g.granular else any
            alive = [pid for pid in everyone if pick(
                rc in self.providers[pid].inventories for rc in need)]
            steps.append(('inventory', alive))
            serves = {pid: self._serves(self.providers[pid])
                      for pid in alive}
            alive = [pid for pid in alive if
                     (serves[pid] == need if g.granular else serves[pid])]
            steps.append(('capacity', alive))
            if not g.granular:
                alive = self._one_tree(alive, serves, need)
                steps.append(('one_tree', alive))
        else:
            alive = everyone
            steps.extend([('inventory', alive), ('capacity', alive)])
        if g.granular or not g.resources:
            steps.append(('one_tree', alive))
        alive = self._traits(alive)
        steps.append(('traits', alive))
        alive = [pid for pid in alive
                 if self.member_of_ok(self.providers[pid])]
        steps.append(('member_of', alive))
        alive = [pid for pid in alive
                 if self.tree_ok(self.providers[pid], request)]
        steps.append(('tree', alive))
        return steps, by_rc

    def _one_tree(self, alive, serves, need):
        """Keep providers whose tree, with the sharing providers lending
        to it, has room for every class."""
        covered = collections.defaultdict(set)
        for pid in alive:
            p = self.providers[pid]
            roots = ({p.root_id} | self.sharing_roots.get(pid, set())
                     if p.sharing else {p.root_id})
            for root in roots:
                covered[root] |= serves[pid]
        keep = []
        for pid in alive:
            p = self.providers[pid]
            roots = ({p.root_id} | self.sharing_roots.get(pid, set())
                     if p.sharing else {p.root_id})
            if any(covered[root] >= need for root in roots):
                keep.append(pid)
        return keep

    def _traits(self, alive):
        g = self.group
        if g.granular or not g.resources:
            return [pid for pid in alive
                    if not self.traits_missing(self.providers[pid].traits)
                    and not g.forbidden & self.providers[pid].traits]
        # The unsuffixed group: the union over the serving providers of a
        # tree satisfies the required terms; none carries a forbidden one.
        clean = [pid for pid in alive
                 if not g.forbidden & self.providers[pid].traits]
        union = collections.defaultdict(set)
        for pid in clean:
            union[self.providers[pid].root_id] |= self.providers[pid].traits
        return [pid for pid in clean if not self.traits_missing(
            union[self.providers[pid].root_id])]

    def failures(self, p, request):
        """{filter: detail} of every filter ``p`` fails taken alone."""
        g = self.group
        failed = {}
        short = []
        for rc, amount in sorted(g.resources.items()):
            why = _shortfall(p, rc, amount)
            if why is not None:
                short.append((rc, amount, why))
        if short:
            failed['capacity'] = short
        missing = self.traits_missing(p.traits)
        forbidden = g.forbidden & p.traits
        if missing or forbidden:
            failed['traits'] = (missing, forbidden)
        if not self.member_of_ok(p):
            failed['member_of'] = None
        if not self.tree_ok(p, request):
            failed['tree'] = None
        return failed


def _sharing_roots(providers):
    """{sharing provider id: roots of trees having a provider in one of
    its aggregates}."""
    by_agg = collections.defaultdict(set)
    for p in providers.values():
        for agg in p.aggs:
            by_agg[agg].add(p.root_id)
    result = {}
    for p in providers.values():
        if p.sharing:
            roots = set()
            for agg in p.aggs:
                roots |= by_agg[agg]
            result[p.id] = roots
    return result


def unknown_in_tree():
    """The ``explain`` member when an ``in_tree`` provider does not
    exist (the answer is empty before any search)."""
    return {'providers_examined': 0, 'truncated': False, 'groups': [],
            'trees_with_every_group': 0, 'candidates': 0,
            'nearest_misses': [],
            'detail': 'An in_tree provider of the request does not exist.'}


def explain(ctx, request, returned, limit):
    """The ``explain`` member for ``request`` (a candidate_engine.Request
    whose names are resolved to ids); ``returned`` candidates were in
    the answer."""
    rc_ids = set()
    for g in request.groups:
        rc_ids.update(g.resources)
    providers, truncated = _load(ctx, rc_ids)
    sharing_tid = _sharing_trait_id(ctx)
    for p in providers.values():
        p.sharing = sharing_tid in p.traits
    sharing_roots = _sharing_roots(providers)
    rc_names = rc_obj.names_from_ids(ctx, rc_ids)
    trait_ids = set(request.root_required | request.root_forbidden)
    for g in request.groups:
        trait_ids |= g.forbidden
        for term in g.required:
            trait_ids |= term
    trait_names = _trait_names(ctx, trait_ids)

    groups = []
    anchors = None
    checks = []
    for g in request.groups:
        check = _GroupCheck(g, providers, sharing_roots)
        checks.append(check)
        steps, by_rc = check.funnel(request)
        survivors = steps[-1][1]
        roots = set()
        for pid in survivors:
            p = providers[pid]
            roots.add(p.root_id)
            if p.sharing:
                roots |= sharing_roots.get(pid, set())
        anchors = roots if anchors is None else anchors & roots
        groups.append({
            'suffix': g.suffix,
            'resources': {rc_names[rc]: amount
                          for rc, amount in sorted(g.resources.items())},
            'funnel': [{'filter': name, 'providers': len(ids)}
                       for name, ids in steps],
            'resource_classes': {
                rc_names[rc]: counts for rc, counts in by_rc.items()},
        })
    body = {
        'providers_examined': len(providers),
        'truncated': truncated,
        'groups': groups,
        'trees_with_every_group': len(anchors or ()),
        'candidates': returned,
        'limit': limit,
    }
    body['nearest_misses'] = [] if returned else _nearest_misses(
        checks, request, providers, rc_names, trait_names)
    return body


def _nearest_misses(checks, request, providers, rc_names, trait_names):
    def names(ids):
        return sorted(trait_names.get(t, str(t)) for t in ids)

    def term(ids):
        # An any-of term reads as the query spells it.
        return names(ids)[0] if len(ids) == 1 else 'in:' + ','.join(
            names(ids))

    misses = []
    for pid in sorted(providers, key=lambda i: (providers[i].name or '',
                                                providers[i].uuid)):
        p = providers[pid]
        for check in checks:
            g = check.group
            if g.resources and not any(rc in p.inventories
                                       for rc in g.resources):
                continue
            failed = check.failures(p, request)
            if len(failed) != 1:
                continue
            (name, detail), = failed.items()
            miss = {'resource_provider_uuid': p.uuid, 'name': p.name,
                    'group': g.suffix, 'failed': name}
            if name == 'capacity':
                miss['resource_classes'] = [
                    _shortfall_detail(p, rc, amount, why, rc_names)
                    for rc, amount, why in detail]
            elif name == 'traits':
                missing, forbidden = detail
                if missing:
                    miss['missing_traits'] = [term(t) for t in missing]
                if forbidden:
                    miss['forbidden_traits'] = names(forbidden)
            misses.append(miss)
            break
        if len(misses) >= MAX_MISSES:
            break
    return misses


def _shortfall_detail(p, rc, amount, why, rc_names):
    detail = {'resource_class': rc_names[rc], 'requested': amount,
              'reason': why}
    inv = p.inventories.get(rc)
    if inv is not None:
        detail.update(capacity=inv.capacity, used=inv.used,
                      min_unit=inv.min_unit, max_unit=inv.max_unit,
                      step_size=inv.step_size)
    return detail
