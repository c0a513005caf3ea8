"""Allocation candidates: drive the research context (SQL) and the
in-memory engine so that only as much of the database is read, and only
as many candidates are built, as the answer needs.

``search(ctx, groups, ...)`` resolves the request's names and runs
``find`` in one read transaction; ``find(ctx, request, ...)`` returns a
``Result`` with the candidates, the loaded providers (for summaries),
trait and resource class names.
"""

import random

from placement.db import api as db_api
from placement import exception
from placement.objects import candidate_engine as engine
from placement.objects import candidate_explain
from placement.objects import research_context as research
from placement.objects import resource_class as rc_obj
from placement.objects import trait as trait_obj

# Page size bounds for the root scan when the answer is bounded, and the
# fewest roots one bounded scan examines.
_MAX_PAGE = 2000
_MIN_WINDOW = 128
# What a request names narrows a whole answer when less than 1/N of the
# providers have it: reading the trees holding it costs about twice a
# plain pass per tree kept.
_NARROWING = 8


class Result(object):
    """``candidates`` (engine.Candidate list), ``providers`` {id:
    engine.Provider} of every loaded tree, ``trait_names`` {id: name},
    ``nested`` (does any provider have a parent); after ``search`` also
    ``rc_names`` {id: name} of every loaded inventory's class,
    ``requested`` (the requested class ids) and ``explain`` (when
    asked for)."""

    def __init__(self, candidates=(), providers=None, trait_names=None,
                 nested=False):
        self.candidates = list(candidates)
        self.providers = providers or {}
        self.trait_names = trait_names or {}
        self.nested = nested
        self.rc_names = {}
        self.requested = set()
        self.explain = None


def _names(groups, root_traits):
    """(every trait name, every aggregate uuid) the request names."""
    traits, aggs = set(), set()
    for required in [g.required for g in groups] + [root_traits]:
        if required is not None:
            traits |= required.names()
    for group in groups:
        if group.member_of is not None:
            for term in group.member_of.any_of:
                aggs |= term
            aggs |= group.member_of.forbidden
    return traits, aggs


def resolve(ctx, groups, root_traits=None, same_subtree=(), isolate=False,
            multi_provider_trees=True):
    """An engine.Request for the parsed ``groups`` ({suffix: group with
    ``resources`` {rc name: amount}, ``required`` / ``root_traits``
    (query_params.RequiredTraits), ``member_of`` (query_params.MemberOf),
    ``in_tree`` (uuid), each possibly None}) with names resolved to ids;
    None when the answer is known to be empty (unknown in_tree
    provider). ResourceClassNotFound (the first unknown class in name
    order) or TraitNotFound name what does not exist."""
    rc_names = set()
    for group in groups.values():
        rc_names.update(group.resources or {})
    rc_ids = rc_obj.ids_from_names(ctx, rc_names)
    for name in sorted(rc_names):
        if name not in rc_ids:
            raise exception.ResourceClassNotFound(name=name)
    trait_names, agg_uuids = _names(groups.values(), root_traits)
    trait_ids, agg_ids = research.resolve_names(ctx, trait_names, agg_uuids)
    trait_obj.check_all_found(trait_names, trait_ids)
    tree_roots = research.provider_roots(
        ctx, {g.in_tree for g in groups.values() if g.in_tree})

    engine_groups = []
    for suffix, group in groups.items():
        if group.in_tree and group.in_tree not in tree_roots:
            return None
        any_of = group.required.any_of if group.required else []
        forbidden = group.required.forbidden if group.required else ()
        member_of = group.member_of.any_of if group.member_of else []
        no_aggs = group.member_of.forbidden if group.member_of else ()
        engine_groups.append(engine.Group(
            suffix=suffix,
            resources={rc_ids[n]: a
                       for n, a in (group.resources or {}).items()},
            required=[frozenset(trait_ids[t] for t in term)
                      for term in any_of],
            forbidden={trait_ids[t] for t in forbidden},
            member_of=[frozenset(agg_ids[u] for u in aggs if u in agg_ids)
                       for aggs in member_of],
            forbidden_aggs={agg_ids[u] for u in no_aggs if u in agg_ids},
            in_tree_root=tree_roots.get(group.in_tree)))
    root_required = root_forbidden = frozenset()
    if root_traits is not None:
        root_required = {trait_ids[t] for term in root_traits.any_of
                         for t in term}
        root_forbidden = {trait_ids[t] for t in root_traits.forbidden}
    return engine.Request(
        engine_groups, isolate=isolate, same_subtree=same_subtree,
        multi_provider_trees=multi_provider_trees,
        root_required=root_required, root_forbidden=root_forbidden)


@db_api.context_manager.reader
def search(ctx, groups, root_traits=None, same_subtree=(), isolate=False,
           multi_provider_trees=True, limit=None, explain=False):
    """Resolve (see ``resolve``) and ``find`` in one read transaction,
    with the service's candidate options; a Result with ``rc_names``
    and ``requested`` filled in, and with ``explain`` the explain member
    (candidate_explain) read in the same transaction."""
    request = resolve(ctx, groups, root_traits, same_subtree, isolate,
                      multi_provider_trees)
    if request is None:
        result = Result()
        if explain:
            result.explain = candidate_explain.unknown_in_tree()
        return result
    conf = ctx.config.placement
    result = find(
        ctx, request, limit=limit,
        randomize=conf.randomize_allocation_candidates,
        max_candidates=conf.max_allocation_candidates,
        strategy=conf.allocation_candidates_generation_strategy)
    rc_ids = set()
    for p in result.providers.values():
        rc_ids.update(p.inventories)
    # Custom class names came with the inventories; standard ones are
    # known without the database.
    result.rc_names.update(rc_obj.names_from_ids(
        ctx, rc_ids - set(result.rc_names)))
    for group in request.groups:
        result.requested.update(group.resources)
    if explain:
        result.explain = candidate_explain.explain(
            ctx, request, len(result.candidates), limit)
    return result


def _min_amounts(request):
    amounts = {}
    for group in request.groups:
        for rc, amount in group.resources.items():
            amounts[rc] = min(amount, amounts.get(rc, amount))
    return amounts


def _unsuffixed_filters(group, p, root, inner):
    """Per-provider trait/aggregate conditions of the unsuffixed group
    (without sharing providers): membership counts for ``p`` or its
    root. ``p`` may be the root itself; ``inner``: inside a correlated
    subquery (else the root is named through ``p``, so that a set of
    providers does not depend on the outer root)."""
    def own_or_root(aggs):
        if p == root:
            return research.in_aggs_clause(p, aggs, inner)
        return research.or_(
            research.in_aggs_clause(p, aggs, inner),
            research.in_aggs_clause(root, aggs, inner) if inner else
            research.in_aggs_clause(p, aggs, column='root_provider_id'))

    conds = [own_or_root(aggs) for aggs in group.member_of]
    if group.forbidden_aggs:
        conds.append(research.not_(own_or_root(group.forbidden_aggs)))
    if group.forbidden:
        conds.append(research.not_(
            research.has_trait_clause(p, group.forbidden, inner)))
    return conds


def _granular_clauses(group, p, inner, usage=True, correlated=True):
    """Exact conditions for ``p`` alone to satisfy suffixed ``group``:
    cheap set lookups first, capacity last (``usage``: see
    research.fits_clause)."""
    conds = []
    if group.in_tree_root is not None:
        conds.append(research.in_tree_clause(p, group.in_tree_root))
    for aggs in group.member_of:
        conds.append(research.in_aggs_clause(p, aggs, inner))
    for term in group.required:
        conds.append(research.has_trait_clause(p, term, inner))
    if group.forbidden:
        conds.append(research.not_(
            research.has_trait_clause(p, group.forbidden, inner)))
    if group.forbidden_aggs:
        conds.append(research.not_(
            research.in_aggs_clause(p, group.forbidden_aggs, inner)))
    conds += [research.fits_clause(p, rc, amount, usage=usage,
                                   correlated=correlated)
              for rc, amount in sorted(group.resources.items())]
    return conds


def _exact_group_conditions(group, root, nested, usage):
    """Conditions on an anchor root for ``group`` when no sharing
    provider can help: nearly exact, so few roots get loaded."""
    correlated = research.correlated(usage)
    inner = nested and correlated

    def in_tree(build):
        if not nested:
            # Every tree is its root alone.
            return build(root)
        return [research.tree_has(root, build, correlated=correlated)]

    if group.granular:
        return in_tree(lambda p: _granular_clauses(group, p, inner, usage,
                                                   correlated))
    conds = []
    if not nested:
        conds += _unsuffixed_filters(group, root, root, False)
    for term in group.required:
        conds += in_tree(lambda p, t=term: [
            research.has_trait_clause(p, t, inner)])
    for rc, amount in sorted(group.resources.items()):
        conds += in_tree(
            lambda p, rc=rc, a=amount:
            ([] if not nested else _unsuffixed_filters(group, p, root, inner))
            + [research.fits_clause(p, rc, a, usage=usage,
                                    correlated=correlated)])
    return conds


def _member_condition(request, root, nested, usage, in_tree):
    """Some provider of ``root``'s tree can serve some group on its own
    terms: every candidate uses a provider of its anchor's tree, whatever
    sharing providers add. None when a resourceless group (always served
    in the tree, and checked as such) makes it redundant."""
    if any(not g.resources for g in request.groups):
        return None
    correlated = research.correlated(usage)
    inner = nested and correlated

    def serves(group):
        if group.granular:
            return lambda p: _granular_clauses(group, p, inner, usage,
                                               correlated)

        def build(p):
            conds = _unsuffixed_filters(group, p, root, inner)
            if group.in_tree_root is not None:
                conds.append(research.in_tree_clause(p, group.in_tree_root))
            return conds + [research.or_(*[
                research.fits_clause(p, rc, a, usage=usage,
                                     correlated=correlated)
                for rc, a in sorted(group.resources.items())])]
        return build

    return research.or_(*[in_tree(root, serves(g)) for g in request.groups])


def _root_conditions(request, nested, sharing, share_aggs, min_amounts,
                     usage=True):
    """Necessary conditions on an anchor root, as SQL (see root_scan).
    Without ``sharing`` providers they are nearly exact; with them the
    tree must hold a provider serving some group and, when
    ``share_aggs`` ({rc: aggregate ids of sharing providers with room})
    is known, cover each class itself or through a sharing aggregate.
    Without ``usage`` capacity is compared without allocations (cheap;
    the engine checks usage) and as uncorrelated sets (for a whole
    answer most roots match: semi-joins beat a probe per root)."""
    correlated = research.correlated(usage)
    inner = nested and correlated

    def in_tree(root, build):
        if not nested:
            return research.and_(build(root))
        return research.tree_has(root, build, correlated=correlated)

    def conditions(root):
        conds = []
        for group in request.groups:
            if (not group.granular and group.in_tree_root is not None and
                    not sharing):
                # (A sharing provider of that tree may serve the group
                # for another anchor.)
                conds.append(research.is_root_clause(root,
                                                     group.in_tree_root))
        for tid in sorted(request.root_required):
            conds.append(research.has_trait_clause(root, {tid}))
        if request.root_forbidden:
            conds.append(research.not_(
                research.has_trait_clause(root, request.root_forbidden)))
        if not sharing:
            isolated = sum(1 for g in request.groups
                           if g.granular and g.resources)
            if request.isolate and isolated > 1:
                # Each of those groups on a provider of its own, all in
                # the tree.
                conds.append(research.tree_size_clause(root, isolated))
            for group in request.groups:
                conds += _exact_group_conditions(group, root, nested, usage)
            return conds
        for group in request.groups:
            if not group.resources:
                # Resourceless groups only use providers of the tree.
                conds.append(in_tree(root, lambda p, g=group:
                                     _granular_clauses(g, p, inner, usage,
                                                       correlated)))
        member = _member_condition(request, root, nested, usage, in_tree)
        if member is not None:
            conds.append(member)
        if share_aggs is None:
            return conds
        for rc, amount in sorted(min_amounts.items()):
            own = in_tree(root, lambda p, rc=rc, a=amount:
                          [research.fits_clause(p, rc, a, exact=False,
                                                usage=usage,
                                                correlated=correlated)])
            if share_aggs.get(rc):
                own = research.or_(own, in_tree(
                    root, lambda p, aggs=share_aggs[rc]:
                    [research.in_aggs_clause(p, aggs, inner)]))
            conds.append(own)
        return conds

    return conditions


class _Anchors(object):
    """The engine's view of each anchor: its tree and the sharing
    providers of other trees that share an aggregate with it."""

    def __init__(self, trees, share_roots, by_id):
        self.trees = trees
        self.by_id = by_id
        self.share_roots = share_roots
        self.sharing_by_agg = None
        # Sharing providers (id order) in any of a set of aggregates:
        # providers mostly share a few aggregate sets.
        self._in_aggs = {}

    def _index_sharing(self):
        """The sharing providers (with aggregates) of the sharing roots'
        trees by aggregate, once those trees are loaded (with the first
        anchors)."""
        self.sharing_by_agg = {}
        for root in self.share_roots:
            for p in self.trees[root]:
                if p.sharing and p.aggs:
                    for agg in p.aggs:
                        self.sharing_by_agg.setdefault(agg, []).append(p)

    def _sharing_in(self, aggs):
        found = self._in_aggs.get(aggs)
        if found is None:
            found = {s.id: s for agg in aggs
                     for s in self.sharing_by_agg.get(agg, ())}
            found = self._in_aggs[aggs] = [found[i] for i in sorted(found)]
        return found

    def __call__(self, root):
        if self.sharing_by_agg is None:
            self._index_sharing()
        members = self.trees.get(root, [])
        foreign = []
        if self.sharing_by_agg:
            if len(members) == 1:
                aggs = members[0].aggs
            else:
                aggs = frozenset().union(*[p.aggs for p in members])
            foreign = [s for s in self._sharing_in(aggs) if s.root_id != root]
        return root, members, foreign, self.by_id


def _has_room(p, rc, amount):
    inv = p.inventories.get(rc)
    return inv is not None and inv.used + amount <= inv.capacity


def _loaded_facts(store, min_amounts):
    """research.preflight's facts, from a store holding every tree:
    (nested, available, sharing roots)."""
    providers = store.by_id.values()
    nested = any(p.parent_id is not None for p in providers)
    available = all(any(_has_room(p, rc, amount) for p in providers)
                    for rc, amount in min_amounts.items())
    share_roots = sorted({
        p.root_id for p in providers if p.sharing and p.aggs and any(
            _has_room(p, rc, amount) for rc, amount in min_amounts.items())})
    return nested, available, share_roots


def _impossible(request):
    """Requests no provider can satisfy, decided without the database."""
    for group in request.groups:
        if any(not aggs for aggs in group.member_of):
            return True       # only unknown aggregates were named
        if any(term <= group.forbidden for term in group.required):
            return True
        if not group.resources and not (group.required or group.member_of):
            return True
    return bool(request.root_required & request.root_forbidden)


# How a whole answer reads its trees (see _whole_answer_reads).
EVERY_TREE = 'every tree'
HOLDING_TREES = 'trees holding what the request names'
MATCHING_TREES = 'trees matching in SQL'


def _whole_answer_reads(ctx, request):
    """How a whole answer reads its trees. Every tree when only capacity
    filters, or when what the request names (aggregates, required
    traits) most providers have: one plain pass costs less than any
    filter. Else the trees holding what few providers have (see
    _holding_roots), or, for requests naming a tree, the trees matching
    conditions in SQL."""
    if any(g.in_tree_root is not None for g in request.groups):
        return MATCHING_TREES
    agg_sets = [aggs for g in request.groups for aggs in g.member_of]
    trait_sets = [term for g in request.groups for term in g.required]
    trait_sets += [{tid} for tid in request.root_required]
    if not agg_sets and not trait_sets:
        return EVERY_TREE
    total, agg_counts, trait_counts = research.narrowest(
        ctx, agg_sets, trait_sets)
    if min(agg_counts + trait_counts) * _NARROWING >= total:
        return EVERY_TREE
    return HOLDING_TREES


def _holding_roots(ctx, store, request, share_roots, share_traits):
    """Load the trees that hold what every anchor tree of a candidate
    must hold, with the pending ones; their roots, or None (nothing
    loaded) when nothing is known to be: a provider with one of the
    traits of each required term (the group's providers, or for the
    unsuffixed group the union of its providers, are in the anchor's
    tree or sharing providers: terms a sharing provider meets are left
    out), the traits of ``root_required`` on the root, and, for a lone
    unsuffixed group, a member of each ``member_of`` term (membership of
    a provider's root counts for it: the root is in the tree too).
    ``share_traits``: preflight's traits of the sharing providers by
    root."""
    groups = request.groups
    trait_sets = [term for g in groups for term in g.required]
    if trait_sets and share_roots:
        # Which terms the sharing providers (of the trees with room)
        # meet; their trees load with the holding ones.
        shared = frozenset().union(*[
            share_traits.get(root, ()) for root in share_roots])
        trait_sets = [term for term in trait_sets if not term & shared]
    agg_sets = []
    if len(groups) == 1 and not groups[0].granular:
        agg_sets = groups[0].member_of
    root_traits = sorted(request.root_required)
    if not (agg_sets or trait_sets or root_traits):
        return None
    # Few trees (see _whole_answer_reads): probe them by index.
    research.tune(ctx, probes=True)
    return store.load_roots(ctx, research.holding_roots_sql(
        agg_sets, trait_sets, root_traits))


def _capacity_only(request):
    """One group of amounts and nothing else to filter trees on (no
    trait, aggregate, tree or root condition, no second group): most
    trees of a cloud with room can serve it."""
    return len(request.groups) == 1 and not (
        request.root_required or request.root_forbidden or any(
            g.required or g.forbidden or g.member_of or g.forbidden_aggs or
            g.in_tree_root is not None for g in request.groups))


def _bounded_anchors(ctx, conditions, stop, nested, store, anchor,
                     capacity_only=False):
    """Anchors for an answer of at most ``stop`` candidates: bounded root
    windows with exact conditions. The first page of roots comes with its
    trees in one round trip (``capacity_only``: the first window's trees
    whatever they hold); later pages (when the first did not give
    enough) load their trees in growing chunks, so a bounded answer reads
    little more than the trees it uses."""
    page = min(stop + 16, _MAX_PAGE)
    # Windows of provider ids: flat clouds match sparsely per root, trees
    # (several ids each) usually densely.
    window = max((4 if nested else 8) * page, _MIN_WINDOW)
    if capacity_only:
        # Most trees have room: the first trees as they are, filtered by
        # the engine (which checks everything), cost the database less
        # than the conditions that would pick them (one statement, not a
        # scan per root and a load).
        window = 2 * page if nested else page
        roots = store.load_range(ctx, 0, window)
    else:
        roots = store.load_matching(ctx, conditions, 0, page, window)
    for root in roots:
        yield anchor(root)
    if len(roots) == page and not capacity_only:
        after = roots[-1]
    else:
        after = research.window_end(ctx, 0, window)
    chunk = max(8, stop)
    while after is not None:
        page = min(page * 4, _MAX_PAGE)
        window *= 4
        roots, after = research.root_scan(ctx, conditions, after, page,
                                          window)
        start = 0
        while start < len(roots):
            end = start + chunk
            store.load(ctx, roots[start:end])
            for root in roots[start:end]:
                yield anchor(root)
            start = end
            chunk *= 2


@db_api.context_manager.reader
def find(ctx, request, limit=None, randomize=False, max_candidates=-1,
         strategy='depth-first'):
    """Search candidates for ``request`` (an engine.Request with ids
    resolved). ``limit`` keeps at most that many (random sample when
    ``randomize``); ``max_candidates`` (-1 = unlimited) caps generation."""
    min_amounts = _min_amounts(request)
    stop = None
    if max_candidates is not None and max_candidates >= 0:
        stop = max_candidates
    if limit and not randomize:
        stop = limit if stop is None else min(stop, limit)
    if _impossible(request) or stop == 0:
        return Result()

    if stop is None:
        research.tune(ctx)
    reads = _whole_answer_reads(ctx, request) if stop is None else None
    if reads == EVERY_TREE:
        # The whole answer, and only capacity to filter on: most trees
        # qualify, and one plain pass over every tree costs less than
        # filtering them in SQL (the engine checks everything); the
        # request-wide facts then come from what was loaded.
        store = research.Trees(None)
        roots = store.load_all(ctx)
        nested, available, share_roots = _loaded_facts(store, min_amounts)
        share_aggs = None
    else:
        roots = None
        (nested, sharing_tid, available, share_roots, share_aggs,
         share_traits) = research.preflight(
             ctx, min_amounts, sharing_traits=reads == HOLDING_TREES and any(
                 g.required for g in request.groups))
        store = research.Trees(sharing_tid)
        # The sharing providers' trees come with the first load.
        store.also_load(share_roots)
        if not share_roots:
            share_aggs = None
    result = Result(nested=nested)
    if not available:
        return result
    by_id = result.providers = store.by_id
    result.trait_names = store.trait_names
    result.rc_names = store.rc_names
    trees = store.trees

    anchor = _Anchors(trees, share_roots, by_id)
    if roots is None and reads == HOLDING_TREES:
        roots = _holding_roots(ctx, store, request, share_roots,
                               share_traits)
    if roots is not None:
        anchors = map(anchor, roots)
    elif stop is None:
        # The whole answer: the trees matching cheap conditions (capacity
        # without usage; the engine checks usage) in one round trip.
        conditions = _root_conditions(request, nested, bool(share_roots),
                                      share_aggs, min_amounts, usage=False)
        roots = store.load_matching(ctx, conditions)
        anchors = map(anchor, roots)
    else:
        conditions = _root_conditions(request, nested, bool(share_roots),
                                      share_aggs, min_amounts)
        research.tune(ctx, probes=True)
        anchors = _bounded_anchors(ctx, conditions, stop, nested, store,
                                   anchor, _capacity_only(request))

    candidates = []
    for cand in engine.generate(request, anchors, strategy,
                                dedup=bool(share_roots)):
        candidates.append(cand)
        if stop is not None and len(candidates) >= stop:
            break
    generated = len(candidates)
    if randomize:
        if limit and len(candidates) > limit:
            candidates = random.sample(candidates, limit)
        else:
            random.shuffle(candidates)
    elif limit:
        candidates = candidates[:limit]
    result.candidates = candidates
    result.generated = generated  # before limit/sampling (metrics)
    return result
