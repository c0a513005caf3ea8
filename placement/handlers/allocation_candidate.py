"""``GET /allocation_candidates`` (1.10+): parse and check the query in
the spec's gate order, run the search (objects/allocation_candidate.py)
and shape the answer for the request's microversion."""

import re
import sys

from placement.db import api as db_api
from placement import errors
from placement import metrics
from placement import microversion
from placement.objects import allocation_candidate as ac_obj
from placement.objects import candidate_explain
from placement.objects import candidate_engine as engine
from placement.objects import research_context as research
from placement.objects import resource_class as rc_obj
from placement.policies import allocation_candidate as policies
from placement import query_params
from placement.schemas import allocation_candidate as schema
from placement import util

MIN_VERSION = (1, 10)
DICT_ALLOCATIONS = (1, 12)
LIMIT = (1, 16)
TRAITS = (1, 17)
GRANULAR = (1, 25)
ALL_SUMMARY_RESOURCES = (1, 27)
NESTED_CANDIDATES = (1, 29)
IN_TREE = (1, 31)
MAPPINGS = (1, 34)
ROOT_REQUIRED = (1, 35)
SAME_SUBTREE = (1, 36)

_GROUP_PREFIXES = ('resources', 'required', 'member_of', 'in_tree')


class _ParsedGroup(object):
    """The raw, syntax-checked parameters of one request group."""

    def __init__(self, suffix):
        self.suffix = suffix
        self.resources = None        # {rc name: amount}
        self.required = None         # query_params.RequiredTraits
        self.member_of = None        # query_params.MemberOf
        self.in_tree = None          # provider uuid

    def key(self, prefix):
        return prefix + self.suffix


def _first(req, key):
    values = req.GET.getall(key)
    return values[0] if values else None


def _parse_limit(req):
    value = _first(req, 'limit')
    if value is None:
        return None
    if not re.fullmatch(r'[1-9][0-9]*', value):
        # The schema only sees the last value; the first one is used.
        raise errors.bad_request(
            "Invalid query string parameters: '%s' does not match "
            "'^[1-9][0-9]*$'\n\nFailed validating 'pattern' in "
            "schema['properties']['limit']" % value)
    # Beyond any candidate count a limit means no limit.
    return query_params.bounded_int(value, sys.maxsize)


def _parse_root_required(req):
    values = req.GET.getall('root_required')
    if not values:
        return None
    if len(values) > 1:
        raise errors.bad_request(
            "Query parameter 'root_required' may be specified only once.",
            code=errors.ILLEGAL_DUPLICATE_QUERYPARAM)
    traits = query_params.parse_required(values, microversion.version_of(req),
                                         allow_any_of=False)
    conflicts = traits.conflicts()
    if conflicts:
        raise errors.bad_request(
            'Conflicting required and forbidden traits found in '
            'root_required: %s' % ', '.join(conflicts),
            code=errors.QUERYPARAM_BAD_VALUE)
    return traits


def _parse_same_subtree(req):
    result = []
    for value in req.GET.getall('same_subtree'):
        suffixes = [s.strip() for s in value.split(',')]
        if not all(suffixes):
            raise errors.bad_request(
                'Empty string (unsuffixed group) can not be specified in '
                '`same_subtree` ', code=errors.QUERYPARAM_BAD_VALUE)
        result.append(list(dict.fromkeys(suffixes)))
    return result


def _parse_groups(req, version):
    """{suffix: _ParsedGroup} from the grouped keys, syntax checked."""
    if version >= GRANULAR:
        key_re = re.compile(r'^(%s)(%s)?\Z' % (
            '|'.join(_GROUP_PREFIXES),
            schema.group_suffix_pattern(version)))
    else:
        key_re = re.compile(r'^(%s)()\Z' % '|'.join(_GROUP_PREFIXES))
    groups = {}
    for key in req.GET.keys():
        match = key_re.match(key)
        if not match:
            continue
        prefix, suffix = match.group(1), match.group(2) or ''
        group = groups.setdefault(suffix, _ParsedGroup(suffix))
        values = req.GET.getall(key)
        if prefix == 'resources':
            group.resources = query_params.parse_resources(None, values[-1])
        elif prefix == 'required':
            group.required = query_params.parse_required(values, version)
        elif prefix == 'member_of':
            group.member_of = query_params.parse_member_of(values, version)
        else:
            value = values[-1].strip()
            if not util.is_dashed_uuid(value):
                raise errors.bad_request(
                    "Invalid query string parameters: Expected 'in_tree' "
                    "parameter to be a format of uuid. Got: %s" % values[-1])
            group.in_tree = util.normalize_uuid(value)
    return groups


def _keys(groups, prefix, attr):
    return ', '.join(sorted(g.key(prefix) for g in groups
                            if getattr(g, attr) is not None and
                            g.resources is None))


def _check_groups_before_1_36(groups):
    orphans = _keys(groups.values(), 'required', 'required')
    if orphans:
        raise errors.bad_request(
            'All traits parameters must be associated with resources.  '
            'Found the following orphaned traits keys: %s' % orphans)
    orphans = _keys(groups.values(), 'member_of', 'member_of')
    if orphans:
        raise errors.bad_request(
            'All member_of parameters must be associated with resources. '
            'Found the following orphaned member_of keys: %s' % orphans)
    if any(g.resources is None for g in groups.values()):
        raise errors.bad_request('All request groups must specify resources.')
    if not groups:
        raise errors.bad_request(
            'At least one request group (`resources` or `resources{$S}`) '
            'is required.')


def _check_groups_since_1_36(groups, same_subtree):
    if not any(g.resources is not None for g in groups.values()):
        raise errors.bad_request(
            'There must be at least one resources or resources[$S] '
            'parameter.', code=errors.QUERYPARAM_MISSING_VALUE)
    listed = {s for suffixes in same_subtree for s in suffixes}
    bad = sorted(s for s, g in groups.items()
                 if g.resources is None and s not in listed)
    if bad:
        raise errors.bad_request(
            'Resourceless suffixed group request should be specified in '
            '`same_subtree` query param: bad group(s) - %s.' % bad,
            code=errors.QUERYPARAM_BAD_VALUE)
    unknown = sorted(listed - set(groups))
    if unknown:
        raise errors.bad_request(
            'Real suffixes should be specified in `same_subtree`: %s not '
            'found in %s.' % (unknown, sorted(groups)),
            code=errors.QUERYPARAM_BAD_VALUE)


def _check_conflicts(groups):
    found = []
    for suffix in sorted(groups):
        group = groups[suffix]
        if group.required is not None and group.required.conflicts():
            found.append('%s: (%s)' % (
                group.key('required'), ', '.join(group.required.conflicts())))
    if found:
        raise errors.bad_request(
            'Conflicting required and forbidden traits found in the '
            'following traits keys: %s' % ', '.join(found))


def _resolve(ctx, groups, root_traits, same_subtree, isolate, version):
    """An engine.Request with names resolved to ids, or None when the
    answer is known to be empty (unknown in_tree provider)."""
    rc_names = set()
    for group in groups.values():
        rc_names.update(group.resources or {})
    rc_ids = query_params.check_resource_classes_exist(ctx, sorted(rc_names))
    all_traits = query_params.RequiredTraits()
    for group in groups.values():
        if group.required is not None:
            all_traits.any_of.extend(group.required.any_of)
            all_traits.forbidden |= group.required.forbidden
    if root_traits is not None:
        all_traits.any_of.extend(root_traits.any_of)
        all_traits.forbidden |= root_traits.forbidden
    trait_ids = query_params.check_traits_exist(ctx, all_traits)
    agg_uuids = set()
    for group in groups.values():
        if group.member_of is not None:
            for aggs in group.member_of.any_of:
                agg_uuids |= aggs
            agg_uuids |= group.member_of.forbidden
    agg_ids = research.aggregate_ids(ctx, agg_uuids)
    tree_roots = research.provider_roots(
        ctx, {g.in_tree for g in groups.values() if g.in_tree})

    engine_groups = []
    for suffix, group in groups.items():
        if group.in_tree and group.in_tree not in tree_roots:
            return None
        required = group.required or query_params.RequiredTraits()
        member_of = group.member_of or query_params.MemberOf([], set())
        engine_groups.append(engine.Group(
            suffix=suffix,
            resources={rc_ids[n]: a
                       for n, a in (group.resources or {}).items()},
            required=[frozenset(trait_ids[t] for t in term)
                      for term in required.any_of],
            forbidden={trait_ids[t] for t in required.forbidden},
            member_of=[frozenset(agg_ids[u] for u in aggs if u in agg_ids)
                       for aggs in member_of.any_of],
            forbidden_aggs={agg_ids[u] for u in member_of.forbidden
                            if u in agg_ids},
            in_tree_root=tree_roots.get(group.in_tree)))
    root_required = root_forbidden = frozenset()
    if root_traits is not None:
        root_required = {trait_ids[t] for term in root_traits.any_of
                         for t in term}
        root_forbidden = {trait_ids[t] for t in root_traits.forbidden}
    return engine.Request(
        engine_groups, isolate=isolate, same_subtree=same_subtree,
        multi_provider_trees=version >= NESTED_CANDIDATES,
        root_required=root_required, root_forbidden=root_forbidden)


def _allocation_request(cand, providers, rc_names, version):
    def resources(pid):
        return {rc_names[rc]: amount
                for rc, amount in sorted(cand.allocations[pid].items())}

    if version < DICT_ALLOCATIONS:
        data = {'allocations': [
            {'resource_provider': {'uuid': providers[pid].uuid},
             'resources': resources(pid)}
            for pid in sorted(cand.allocations)]}
    else:
        data = {'allocations': {
            providers[pid].uuid: {'resources': resources(pid)}
            for pid in sorted(cand.allocations)}}
    if version >= MAPPINGS:
        data['mappings'] = {
            suffix: [providers[pid].uuid for pid in pids]
            for suffix, pids in sorted(cand.mappings.items())}
    return data


def _summaries(result, requested_rcs, rc_names, version):
    providers = result.providers
    used = set()
    for cand in result.candidates:
        used |= cand.provider_ids()
    if version >= NESTED_CANDIDATES or not result.nested:
        roots = {providers[pid].root_id for pid in used}
        shown = sorted(p.id for p in providers.values()
                       if p.root_id in roots)
    else:
        shown = sorted(used)
    summaries = {}
    for pid in shown:
        p = providers[pid]
        rcs = sorted(p.inventories)
        if version < ALL_SUMMARY_RESOURCES:
            rcs = [rc for rc in rcs if rc in requested_rcs]
        summary = {'resources': {
            rc_names[rc]: {'capacity': p.inventories[rc].capacity,
                           'used': p.inventories[rc].used}
            for rc in rcs}}
        if version >= TRAITS:
            summary['traits'] = [result.trait_names[t]
                                 for t in sorted(p.traits)]
        if version >= NESTED_CANDIDATES:
            parent = providers.get(p.parent_id)
            summary['parent_provider_uuid'] = parent.uuid if parent else None
            summary['root_provider_uuid'] = providers[p.root_id].uuid
        summaries[p.uuid] = summary
    return summaries


def _search(ctx, groups, root_traits, same_subtree, isolate, limit,
            version, explain=False):
    """Resolve names, search and shape the response body (with the
    ``explain`` member when asked for)."""
    request = _resolve(ctx, groups, root_traits, same_subtree, isolate,
                       version)
    if request is None:
        body = {'allocation_requests': [], 'provider_summaries': {}}
        if explain:
            body['explain'] = candidate_explain.unknown_in_tree()
        return body
    conf = ctx.config.placement
    result = ac_obj.find(
        ctx, request, limit=limit,
        randomize=conf.randomize_allocation_candidates,
        max_candidates=conf.max_allocation_candidates,
        strategy=conf.allocation_candidates_generation_strategy)
    metrics.candidates_searched(result, limit)

    rc_ids = set()
    for p in result.providers.values():
        rc_ids.update(p.inventories)
    rc_names = rc_obj.names_from_ids(ctx, rc_ids)
    requested = set()
    for group in request.groups:
        requested.update(group.resources)
    body = {
        'allocation_requests': [
            _allocation_request(c, result.providers, rc_names, version)
            for c in result.candidates],
        'provider_summaries': _summaries(result, requested, rc_names,
                                         version),
    }
    if explain:
        body['explain'] = candidate_explain.explain(
            ctx, request, len(body['allocation_requests']), limit)
    return body


def list_allocation_candidates(req):
    """GET /allocation_candidates."""
    util.require_version(req, MIN_VERSION)
    util.check_accept(req)
    ctx = util.context_of(req)
    ctx.can(policies.LIST)
    version = microversion.version_of(req)
    util.validate_query(req, schema.GET_SCHEMAS.for_request(req))
    explain = candidate_explain.requested(req)
    if explain:
        ctx.can(policies.EXPLAIN)

    # Request-wide parameters.
    limit = _parse_limit(req) if version >= LIMIT else None
    group_policy = (_first(req, 'group_policy')
                    if version >= GRANULAR else None)
    root_traits = (_parse_root_required(req)
                   if version >= ROOT_REQUIRED else None)
    same_subtree = (_parse_same_subtree(req)
                    if version >= SAME_SUBTREE else [])

    groups = _parse_groups(req, version)
    if version >= SAME_SUBTREE:
        _check_groups_since_1_36(groups, same_subtree)
    else:
        _check_groups_before_1_36(groups)
    _check_conflicts(groups)
    if len([s for s in groups if s]) > 1 and group_policy is None:
        raise errors.bad_request(
            'The "group_policy" parameter is required when specifying more '
            'than one "resources{N}" parameter.')

    # One read transaction for every lookup and the search.
    with db_api.context_manager.reader.using(ctx):
        data = _search(ctx, groups, root_traits, same_subtree,
                       group_policy == 'isolate', limit, version,
                       explain=explain)
    return util.json_response(req, data)
