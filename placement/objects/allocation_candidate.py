"""Allocation candidates: drive the research context (SQL) and the
in-memory engine so that only as much of the database is read, and only
as many candidates are built, as the answer needs.

``find(ctx, request, ...)`` returns a ``Result`` with the candidates, the
loaded providers (for summaries) and trait names.
"""

import random

from placement.db import api as db_api
from placement.objects import candidate_engine as engine
from placement.objects import research_context as research

# Page size bounds for the root scan when the answer is bounded, and the
# fewest roots one bounded scan examines.
_MAX_PAGE = 2000
_MIN_WINDOW = 128


class Result(object):
    """``candidates`` (engine.Candidate list), ``providers`` {id:
    engine.Provider} of every loaded tree, ``trait_names`` {id: name},
    ``nested`` (does any provider have a parent)."""

    def __init__(self, candidates=(), providers=None, trait_names=None,
                 nested=False):
        self.candidates = list(candidates)
        self.providers = providers or {}
        self.trait_names = trait_names or {}
        self.nested = nested


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
    subquery."""
    def own_or_root(aggs):
        if p == root:
            return research.in_aggs_clause(p, aggs, inner)
        return research.or_(research.in_aggs_clause(p, aggs, inner),
                            research.in_aggs_clause(root, aggs, inner))

    conds = [own_or_root(aggs) for aggs in group.member_of]
    if group.forbidden_aggs:
        conds.append(research.not_(own_or_root(group.forbidden_aggs)))
    if group.forbidden:
        conds.append(research.not_(
            research.has_trait_clause(p, group.forbidden, inner)))
    return conds


def _granular_clauses(group, p, inner):
    """Exact conditions for ``p`` alone to satisfy suffixed ``group``:
    cheap set lookups first, capacity last."""
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
    conds += [research.fits_clause(p, rc, amount)
              for rc, amount in sorted(group.resources.items())]
    return conds


def _exact_group_conditions(group, root, nested):
    """Conditions on an anchor root for ``group`` when no sharing
    provider can help: nearly exact, so few roots get loaded."""
    def in_tree(build):
        if not nested:
            # Every tree is its root alone.
            return build(root)
        return [research.tree_has(root, build)]

    if group.granular:
        return in_tree(lambda p: _granular_clauses(group, p, nested))
    conds = []
    if not nested:
        conds += _unsuffixed_filters(group, root, root, False)
    for term in group.required:
        conds += in_tree(lambda p, t=term: [
            research.has_trait_clause(p, t, nested)])
    for rc, amount in sorted(group.resources.items()):
        conds += in_tree(
            lambda p, rc=rc, a=amount:
            ([] if not nested else _unsuffixed_filters(group, p, root, True))
            + [research.fits_clause(p, rc, a)])
    return conds


def _root_conditions(request, nested, share_aggs, min_amounts):
    """Necessary conditions on an anchor root, as SQL (see root_scan).
    Without sharing providers they are nearly exact; with them only the
    class coverage (own tree or a sharing aggregate) is checked."""

    def in_tree(root, build):
        if not nested:
            return research.and_(build(root))
        return research.tree_has(root, build)

    def conditions(root):
        conds = []
        for group in request.groups:
            if (not group.granular and group.in_tree_root is not None and
                    share_aggs is None):
                # (A sharing provider of that tree may serve the group
                # for another anchor.)
                conds.append(research.is_root_clause(root,
                                                     group.in_tree_root))
        for tid in sorted(request.root_required):
            conds.append(research.has_trait_clause(root, {tid}))
        if request.root_forbidden:
            conds.append(research.not_(
                research.has_trait_clause(root, request.root_forbidden)))
        if share_aggs is None:
            for group in request.groups:
                conds += _exact_group_conditions(group, root, nested)
            return conds
        for group in request.groups:
            if not group.resources:
                # Resourceless groups only use providers of the tree.
                conds.append(in_tree(
                    root, lambda p, g=group: _granular_clauses(g, p, nested)))
        for rc, amount in sorted(min_amounts.items()):
            own = in_tree(root, lambda p, rc=rc, a=amount:
                          [research.fits_clause(p, rc, a, exact=False)])
            if share_aggs.get(rc):
                own = research.or_(own, in_tree(
                    root, lambda p, aggs=share_aggs[rc]:
                    [research.in_aggs_clause(p, aggs, nested)]))
            conds.append(own)
        return conds

    return conditions


def _anchor(root, members, sharing, by_id):
    """The engine's view of one anchor: its tree and the sharing
    providers of other trees that share an aggregate with it."""
    foreign = []
    if sharing:
        tree_aggs = frozenset().union(*[p.aggs for p in members])
        foreign = [s for s in sharing
                   if s.root_id != root and s.aggs & tree_aggs]
    return root, members, foreign, by_id


def _has_room(p, rc, amount):
    inv = p.inventories.get(rc)
    return inv is not None and inv.used + amount <= inv.capacity


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


@db_api.context_manager.reader
def find(ctx, request, limit=None, randomize=False, max_candidates=-1,
         strategy='depth-first'):
    """Search candidates for ``request`` (an engine.Request with ids
    resolved). ``limit`` keeps at most that many (random sample when
    ``randomize``); ``max_candidates`` (-1 = unlimited) caps generation."""
    min_amounts = _min_amounts(request)
    nested, sharing_tid, available = research.preflight(ctx, min_amounts)
    result = Result(nested=nested)
    if _impossible(request) or not available:
        return result

    stop = None
    if max_candidates is not None and max_candidates >= 0:
        stop = max_candidates
    if limit and not randomize:
        stop = limit if stop is None else min(stop, limit)
    if stop == 0:
        return result

    by_id = result.providers
    trees = {}

    def load(root_ids):
        loaded = research.load_trees(ctx, root_ids, sharing_tid,
                                     result.trait_names)
        for p in loaded:
            by_id[p.id] = p
            trees.setdefault(p.root_id, []).append(p)
        return loaded

    sharing = []
    share_aggs = None
    share_roots = research.sharing_provider_roots(ctx, sharing_tid,
                                                  min_amounts)
    if share_roots:
        sharing = [p for p in load(share_roots) if p.sharing and p.aggs]
        share_aggs = {
            rc: frozenset().union(*[p.aggs for p in sharing
                                    if _has_room(p, rc, amount)])
            for rc, amount in min_amounts.items()}
    conditions = _root_conditions(request, nested, share_aggs, min_amounts)

    def anchors():
        after = 0
        page = None if stop is None else min(stop + 16, _MAX_PAGE)
        # Flat clouds match sparsely per root; trees usually densely.
        window = None if stop is None else max(
            (2 if nested else 8) * page, _MIN_WINDOW)
        # Trees are loaded in growing chunks, so a bounded answer reads
        # little more than the trees it uses.
        chunk = None if stop is None else max(8, stop)
        while after is not None:
            roots, after = research.root_scan(ctx, conditions, after, page,
                                              window)
            start = 0
            while start < len(roots):
                end = len(roots) if chunk is None else start + chunk
                load([r for r in roots[start:end] if r not in trees])
                for root in roots[start:end]:
                    yield _anchor(root, trees.get(root, []), sharing, by_id)
                start = end
                if chunk is not None:
                    chunk *= 2
            if page is not None:
                page = min(page * 4, _MAX_PAGE)
                window *= 4

    candidates = []
    for cand in engine.generate(request, anchors(), strategy,
                                dedup=bool(sharing)):
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
