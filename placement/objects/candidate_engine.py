"""In-memory search for allocation candidates within one anchor tree.

Pure Python, no database: the research context (research_context.py)
loads providers, and this module turns one anchor's providers into
candidates lazily (a generator), so callers stop as soon as they have
enough. The search is a depth-first walk over "levels" (one per resource
class of the unsuffixed group, one per suffixed group) with pruning:

* capacity is re-checked on running sums at every step;
* ``isolate``, the <1.29 one-provider-per-tree rule and ``same_subtree``
  are checked as soon as they can be decided;
* interchangeable providers (identical inventory, usage, traits,
  aggregates and tree position, untouched so far) are explored once when
  one of them already proved to lead nowhere, so identical siblings do
  not multiply the work of an unsatisfiable branch.
"""

import collections
import itertools

Inventory = collections.namedtuple(
    'Inventory', ['capacity', 'used', 'min_unit', 'max_unit', 'step_size'])


class Provider(object):
    """One resource provider as the search sees it."""

    __slots__ = ('id', 'uuid', 'parent_id', 'root_id', 'inventories',
                 'traits', 'aggs', 'sharing', 'is_leaf', '_sig')

    def __init__(self, id, uuid, parent_id, root_id, inventories=None,
                 traits=frozenset(), aggs=frozenset(), sharing=False):
        self.id = id
        self.uuid = uuid
        self.parent_id = parent_id
        self.root_id = root_id
        self.inventories = inventories or {}
        self.traits = traits
        self.aggs = aggs
        self.sharing = sharing
        self.is_leaf = True
        self._sig = None

    def fits(self, rc, amount):
        inv = self.inventories.get(rc)
        return (inv is not None and inv.used + amount <= inv.capacity and
                inv.min_unit <= amount <= inv.max_unit and
                amount % inv.step_size == 0)

    def signature(self):
        """What makes two providers interchangeable for the search: equal
        data and the same position (leaves under the same parent are
        symmetric for every ancestor test; inner nodes never merge)."""
        if self._sig is None:
            position = (('leaf', self.parent_id, self.root_id)
                        if self.is_leaf else ('node', self.id))
            self._sig = (position, self.sharing, self.traits, self.aggs,
                         tuple(sorted(self.inventories.items())))
        return self._sig

    def __repr__(self):
        return 'Provider(%s)' % self.id


class Group(object):
    """One request group with names already resolved to ids.

    ``required``: list of frozensets (any-of terms); ``member_of``: list
    of frozensets of aggregate ids; ``in_tree_root``: root id of the
    ``in_tree`` provider or None.
    """

    def __init__(self, suffix='', resources=None, required=(),
                 forbidden=frozenset(), member_of=(),
                 forbidden_aggs=frozenset(), in_tree_root=None):
        self.suffix = suffix
        self.resources = dict(resources or {})
        self.required = [frozenset(t) for t in required]
        self.forbidden = frozenset(forbidden)
        self.member_of = [frozenset(m) for m in member_of]
        self.forbidden_aggs = frozenset(forbidden_aggs)
        self.in_tree_root = in_tree_root

    @property
    def granular(self):
        return self.suffix != ''

    def __repr__(self):
        return 'Group(%r, %r, req=%r, forb=%r, mo=%r, fmo=%r, tree=%r)' % (
            self.suffix, self.resources, self.required, self.forbidden,
            self.member_of, self.forbidden_aggs, self.in_tree_root)


class Request(object):
    """The whole search request: groups plus cross-group rules."""

    def __init__(self, groups, isolate=False, same_subtree=(),
                 multi_provider_trees=True, root_required=frozenset(),
                 root_forbidden=frozenset()):
        # The unsuffixed group first, then suffixed ones in a stable order.
        self.groups = sorted(groups, key=lambda g: (g.granular, g.suffix))
        self.isolate = isolate
        self.same_subtree = [list(dict.fromkeys(s)) for s in same_subtree]
        # <1.29: a candidate may use only one provider per tree.
        self.multi_provider_trees = multi_provider_trees
        self.root_required = frozenset(root_required)
        self.root_forbidden = frozenset(root_forbidden)
        # One unsuffixed group with resources (the common request): its
        # amounts in class order, shared by the candidates of lone
        # providers (read-only).
        self.single = None
        if (len(self.groups) == 1 and not self.groups[0].granular and
                self.groups[0].resources):
            self.single = dict(sorted(self.groups[0].resources.items()))
        # _lone_single's verdicts by what decides them: providers alike
        # (one inventory, trait and aggregate object each, see
        # research_context.Trees) are judged once.
        self.lone_verdicts = {}


class Candidate(object):
    """``allocations`` {provider id: {rc id: amount}}; ``mappings``
    {suffix: [provider ids]}."""

    __slots__ = ('allocations', 'mappings', 'anchor')

    def __init__(self, allocations, mappings, anchor):
        self.allocations = allocations
        self.mappings = mappings
        self.anchor = anchor

    def key(self):
        return (frozenset((pid, rc, amt)
                          for pid, res in self.allocations.items()
                          for rc, amt in res.items()),
                frozenset((s, tuple(p)) for s, p in self.mappings.items()))

    def provider_ids(self):
        ids = set(self.allocations)
        for pids in self.mappings.values():
            ids.update(pids)
        return ids


def _in_all(aggs, member_of):
    return all(aggs & m for m in member_of)


def _traits_ok(traits, group):
    return (not (traits & group.forbidden) and
            all(traits & term for term in group.required))


def _unsuffixed_eligible(p, group, anchor, by_id):
    """May ``p`` serve some of the unsuffixed group's resources at
    ``anchor``? (Traits of the whole union are checked later.)"""
    if p.traits & group.forbidden:
        return False
    if group.in_tree_root is not None and p.root_id != group.in_tree_root:
        return False
    if not (group.member_of or group.forbidden_aggs):
        return True
    root = by_id.get(p.root_id, p)
    if group.member_of:
        if p.sharing or root is p:
            positive = p.aggs
        else:
            positive = p.aggs | root.aggs
        if not _in_all(positive, group.member_of):
            return False
    if group.forbidden_aggs:
        anchor_p = by_id.get(anchor)
        near = p.aggs | root.aggs | (anchor_p.aggs if anchor_p else
                                     frozenset())
        if near & group.forbidden_aggs:
            return False
    return True


def _granular_ok(p, group):
    """May ``p`` alone satisfy suffixed ``group`` (resources apart)?"""
    if group.in_tree_root is not None and p.root_id != group.in_tree_root:
        return False
    return (_traits_ok(p.traits, group) and
            _in_all(p.aggs, group.member_of) and
            not (p.aggs & group.forbidden_aggs))


# A level of the depth-first walk.
_RC, _GROUP, _NORES = 'rc', 'group', 'nores'


def _levels(request, anchor, members, foreign, by_id):
    """The levels for ``anchor``, or None when some group has no option
    at all (the anchor cannot produce anything)."""
    levels = []
    for group in request.groups:
        if not group.granular and group.resources:
            eligible = [p for p in members + foreign
                        if _unsuffixed_eligible(p, group, anchor, by_id)]
            for rc, amount in sorted(group.resources.items()):
                options = [p for p in eligible if p.fits(rc, amount)]
                if not options:
                    return None
                levels.append((_RC, group, {rc: amount}, options))
        elif group.resources:
            options = [p for p in members + foreign
                       if _granular_ok(p, group) and
                       all(p.fits(rc, a) for rc, a in group.resources.items())]
            if not options:
                return None
            levels.append((_GROUP, group, group.resources, options))
        else:
            # Resourceless: one provider of the tree with the traits and
            # aggregates; with neither, upstream matches nothing.
            if not (group.required or group.member_of):
                return None
            options = [p for p in members if _granular_ok(p, group)]
            if not options:
                return None
            levels.append((_NORES, group, {}, options))
    return levels


def _ancestry(pid, by_id):
    """Ancestors-or-self of provider ``pid`` (ids)."""
    chain = set()
    node = by_id.get(pid)
    while node is not None:
        chain.add(node.id)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return frozenset(chain)


class _Walk(object):
    """The depth-first walk over the levels of one anchor."""

    def __init__(self, request, anchor, levels, by_id, member_ids):
        self.request = request
        self.anchor = anchor
        self.levels = levels
        self.by_id = by_id
        self.member_ids = member_ids
        self.sums = {}          # provider id -> {rc: amount}
        self.touched = {}       # provider id -> number of levels using it
        self.tree_use = {}      # root id -> {provider id: count}
        self.isolated = set()   # providers taken by suffixed groups
        self.choice = [None] * len(levels)
        unsuffixed = [i for i, lv in enumerate(levels) if lv[0] == _RC]
        self.unsuffixed_last = unsuffixed[-1] if unsuffixed else None
        self.unsuffixed_levels = unsuffixed
        # same_subtree: at every level of a constraint, some provider
        # already chosen for it or still offered to its later levels must
        # be able to become the ancestor-or-self of all chosen so far.
        self.subtree_checks = collections.defaultdict(list)
        suffix_level = {}
        for i, lv in enumerate(levels):
            suffix_level.setdefault(lv[1].suffix, []).append(i)
        for suffixes in request.same_subtree:
            idx = sorted(i for s in suffixes for i in suffix_level.get(s, []))
            for pos, i in enumerate(idx):
                later = frozenset(p.id for j in idx[pos + 1:]
                                  for p in levels[j][3])
                self.subtree_checks[i].append((idx[:pos + 1], later))
        self._ancestors = {}

    def _anc(self, pid):
        anc = self._ancestors.get(pid)
        if anc is None:
            anc = self._ancestors[pid] = _ancestry(pid, self.by_id)
        return anc

    def _subtree_ok(self, chosen_levels, later):
        chosen = {self.choice[j].id for j in chosen_levels}
        if len(chosen) == 1 and not later:
            return True
        ancestries = [self._anc(pid) for pid in chosen]
        return any(all(top in anc for anc in ancestries)
                   for top in chosen | later)

    def _take(self, i, p, amounts):
        """Apply choice ``p`` at level ``i``; False (and nothing applied)
        when it breaks capacity, isolate or the one-per-tree rule."""
        kind = self.levels[i][0]
        current = self.sums.get(p.id, {})
        for rc, amount in amounts.items():
            inv = p.inventories[rc]
            total = current.get(rc, 0) + amount
            if inv.used + total > inv.capacity or total > inv.max_unit:
                return False
        if (self.request.isolate and kind != _RC and
                p.id in self.isolated):
            return False
        if not self.request.multi_provider_trees:
            used = self.tree_use.get(p.root_id)
            if used and p.id not in used:
                return False
        # Apply.
        if amounts:
            new = dict(current)
            for rc, amount in amounts.items():
                new[rc] = new.get(rc, 0) + amount
            self.sums[p.id] = new
        self.touched[p.id] = self.touched.get(p.id, 0) + 1
        self.tree_use.setdefault(p.root_id, {}).setdefault(p.id, 0)
        self.tree_use[p.root_id][p.id] += 1
        if self.request.isolate and kind != _RC:
            self.isolated.add(p.id)
        self.choice[i] = p
        return current

    def _untake(self, i, p, amounts, previous):
        kind = self.levels[i][0]
        if amounts:
            if previous:
                self.sums[p.id] = previous
            else:
                del self.sums[p.id]
        self.touched[p.id] -= 1
        if not self.touched[p.id]:
            del self.touched[p.id]
        use = self.tree_use[p.root_id]
        use[p.id] -= 1
        if not use[p.id]:
            del use[p.id]
            if not use:
                del self.tree_use[p.root_id]
        if self.request.isolate and kind != _RC:
            self.isolated.discard(p.id)
        self.choice[i] = None

    def _unsuffixed_traits_ok(self):
        group = self.levels[self.unsuffixed_last][1]
        if not group.required:
            return True
        traits = frozenset().union(
            *(self.choice[i].traits for i in self.unsuffixed_levels))
        return all(traits & term for term in group.required)

    def _level_ok(self, i):
        if i == self.unsuffixed_last and not self._unsuffixed_traits_ok():
            return False
        for chosen_levels, later in self.subtree_checks.get(i, ()):
            if not self._subtree_ok(chosen_levels, later):
                return False
        return True

    def _candidate(self):
        allocations = {pid: dict(res) for pid, res in self.sums.items()}
        mappings = {}
        for i, lv in enumerate(self.levels):
            pids = mappings.setdefault(lv[1].suffix, [])
            if self.choice[i].id not in pids:
                pids.append(self.choice[i].id)
        for pids in mappings.values():
            pids.sort()
        return Candidate(allocations, mappings, self.anchor)

    def run(self, i=0):
        """Yield every completion from level ``i`` on."""
        if i == len(self.levels):
            if any(pid in self.member_ids for pid in self.touched):
                yield self._candidate()
            return
        amounts = self.levels[i][2]
        failed = set()
        for p in self.levels[i][3]:
            key = p.signature() if p.id not in self.touched else p.id
            if key in failed:
                continue
            previous = self._take(i, p, amounts)
            if previous is False:
                continue
            produced = 0
            if self._level_ok(i):
                for cand in self.run(i + 1):
                    produced += 1
                    yield cand
            self._untake(i, p, amounts, previous)
            if not produced:
                failed.add(key)


def root_ok(request, root):
    """``root_required`` on the anchor root."""
    return (request.root_required <= root.traits and
            not (request.root_forbidden & root.traits))


def anchor_candidates(request, anchor, members, foreign, by_id):
    """Candidates (lazily) anchored at root ``anchor``: ``members`` are
    the providers of its tree, ``foreign`` the sharing providers of other
    trees sharing an aggregate with it; ``by_id`` covers both (and their
    roots)."""
    root = by_id.get(anchor)
    if root is None or not root_ok(request, root):
        return iter(())
    if len(members) == 1 and not foreign:
        return _lone_provider(request, root)
    if len(request.groups) == 1 and not request.groups[0].granular:
        return _one_group(request, anchor, members, foreign, by_id)
    levels = _levels(request, anchor, members, foreign, by_id)
    if levels is None:
        return iter(())
    walk = _Walk(request, anchor, levels, by_id, {p.id for p in members})
    return walk.run()


def _one_group(request, anchor, members, foreign, by_id):
    """Fast path for a request of one unsuffixed group: a candidate is
    one provider per resource class, so the walk is a plain product of
    the per-class options (in the walk's order) with no running sums:
    each (provider, class) pair is used once, and its options already
    fit."""
    group = request.groups[0]
    eligible = [p for p in members + foreign
                if _unsuffixed_eligible(p, group, anchor, by_id)]
    rcs = sorted(group.resources.items())
    options = []
    for rc, amount in rcs:
        fitting = [p for p in eligible if p.fits(rc, amount)]
        if not fitting:
            return iter(())
        options.append(fitting)
    return _products(request, group, anchor, rcs, options)


def _products(request, group, anchor, rcs, options):
    required = group.required
    one_per_tree = not request.multi_provider_trees
    suffix = group.suffix
    for combo in itertools.product(*options):
        if not any(p.root_id == anchor for p in combo):
            continue
        if required:
            traits = frozenset().union(*[p.traits for p in combo])
            if not all(traits & term for term in required):
                continue
        allocations = {}
        for p, (rc, amount) in zip(combo, rcs):
            res = allocations.get(p.id)
            if res is None:
                allocations[p.id] = {rc: amount}
            else:
                res[rc] = amount
        if one_per_tree and len(
                {p.root_id for p in combo}) != len(allocations):
            continue
        yield Candidate(allocations, {suffix: sorted(allocations)}, anchor)


def _lone_single(request, p):
    """_lone_provider for a request of one unsuffixed group."""
    group = request.groups[0]
    key = (id(p.inventories), p.traits, p.aggs, p.sharing,
           p.root_id if group.in_tree_root is not None else None)
    known = request.lone_verdicts.get(key)
    if known is not None and known[0] is p.inventories:
        fits = known[1]
    else:
        # (The inventories are kept with the verdict: an id is only
        # unique while its object lives.)
        fits = _lone_single_fits(group, p, request.single)
        request.lone_verdicts[key] = (p.inventories, fits)
    if not fits:
        return ()
    return (Candidate({p.id: request.single}, {group.suffix: [p.id]},
                      p.id),)


def _lone_single_fits(group, p, single):
    """Whether lone provider ``p`` alone serves ``group`` (amounts
    ``single``)."""
    if not _unsuffixed_eligible(p, group, p.id, _NOBODY):
        return False
    traits = p.traits
    for term in group.required:
        if not traits & term:
            return False
    inventories = p.inventories
    for rc, amount in single.items():
        inv = inventories.get(rc)
        if (inv is None or inv.used + amount > inv.capacity or
                not inv.min_unit <= amount <= inv.max_unit or
                amount % inv.step_size):
            return False
    return True


# No other provider (for a lone provider's eligibility: its own root).
_NOBODY = {}


def _lone_provider(request, p):
    """Fast path for a one-provider tree without sharing providers (flat
    clouds): every group must land on ``p`` itself."""
    if request.single is not None:
        return _lone_single(request, p)
    sums = {}
    suffixed = 0
    for group in request.groups:
        if group.granular:
            suffixed += 1
            if not _granular_ok(p, group) or (
                    not group.resources and
                    not (group.required or group.member_of)):
                return iter(())
        elif group.resources:
            if (not _unsuffixed_eligible(p, group, p.id, {p.id: p}) or
                    not all(p.traits & t for t in group.required)):
                return iter(())
        for rc, amount in group.resources.items():
            if not p.fits(rc, amount):
                return iter(())
            sums[rc] = sums.get(rc, 0) + amount
    if request.isolate and suffixed > 1:
        return iter(())
    for rc, total in sums.items():
        inv = p.inventories[rc]
        if inv.used + total > inv.capacity or total > inv.max_unit:
            return iter(())
    return iter([Candidate({p.id: sums} if sums else {},
                           {g.suffix: [p.id] for g in request.groups},
                           p.id)])


def mark_leaves(providers):
    """Set ``is_leaf`` on every provider of ``providers`` (all trees
    complete)."""
    parents = {p.parent_id for p in providers if p.parent_id is not None}
    for p in providers:
        p.is_leaf = p.id not in parents
        p._sig = None


def generate(request, anchors, strategy='depth-first', dedup=True):
    """Yield distinct candidates over ``anchors`` (an iterable of
    ``(anchor, members, foreign, by_id)``) visiting them depth-first (all
    of one anchor, then the next) or breadth-first (round-robin).

    One anchor never yields the same candidate twice; two anchors only
    can through sharing providers, so without any ``dedup`` may be off.
    Even then only candidates made of sharing providers alone can repeat
    (any other provider belongs to the anchor's own tree), so only those
    are keyed.
    """
    seen = set()

    def fresh(cands, by_id):
        for cand in cands:
            if all(by_id[pid].sharing for pid in cand.provider_ids()):
                key = cand.key()
                if key in seen:
                    continue
                seen.add(key)
            yield cand

    def candidates(args):
        cands = anchor_candidates(request, *args)
        if dedup and any(p.sharing for p in args[1]):
            # (Without a sharing provider in the anchor's own tree, every
            # candidate holds a provider of no other tree.)
            return fresh(cands, args[3])
        return cands

    if strategy != 'breadth-first':
        for args in anchors:
            yield from candidates(args)
        return
    # Round-robin: round one takes the first candidate of every anchor
    # (loading anchors lazily), later rounds cycle over the live ones.
    live = []
    for args in anchors:
        gen = iter(candidates(args))
        for cand in gen:
            yield cand
            live.append(gen)
            break
    while live:
        still = []
        for gen in live:
            for cand in gen:
                yield cand
                still.append(gen)
                break
        live = still
