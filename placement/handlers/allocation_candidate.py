"""``GET /allocation_candidates`` (1.10+): parse and check the query in
the spec's gate order, run the search (objects/allocation_candidate.py)
and shape the answer for the request's microversion."""

import re
import sys

from placement import errors
from placement import exception
from placement import metrics
from placement import microversion
from placement.objects import allocation_candidate as ac_obj
from placement.objects import candidate_explain
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


def _allocation_requests(result, version):
    """The ``allocation_requests`` list: plain dicts and lists, the
    resources of one provider in class id order, providers in id order."""
    uuid_of = {pid: p.uuid for pid, p in result.providers.items()}
    rc_names = result.rc_names
    dict_form = version >= DICT_ALLOCATIONS
    mappings = version >= MAPPINGS
    shown = {}      # the same amounts recur: one dict each (read-only)
    by_object = {}  # and often as the same object (engine.Request.single)

    def resources(res):
        """{'resources': {name: amount}} for ``res``, shared (read-only)
        by the candidates with the same amounts."""
        entry = by_object.get(id(res))
        if entry is not None:
            return entry
        key = tuple(res.items())
        entry = shown.get(key)
        if entry is None:
            entry = shown[key] = {'resources': {
                rc_names[rc]: amount for rc, amount in sorted(res.items())}}
        by_object[id(res)] = entry
        return entry

    body = []
    for cand in result.candidates:
        allocations = cand.allocations
        pids = sorted(allocations) if len(allocations) > 1 else allocations
        if dict_form:
            data = {'allocations': {
                uuid_of[pid]: resources(allocations[pid]) for pid in pids}}
        else:
            data = {'allocations': [
                {'resource_provider': {'uuid': uuid_of[pid]},
                 'resources': resources(allocations[pid])['resources']}
                for pid in pids]}
        if mappings:
            data['mappings'] = {
                suffix: [uuid_of[pid] for pid in group_pids]
                for suffix, group_pids in sorted(cand.mappings.items())}
        body.append(data)
    return body


def _provider_summaries(result, version):
    """``provider_summaries``: one entry per provider of the trees used
    (≥1.29, or when nothing is nested), else per provider used; each
    built once."""
    providers = result.providers
    used = set()
    for cand in result.candidates:
        used.update(cand.allocations)
        for pids in cand.mappings.values():
            used.update(pids)
    if version >= NESTED_CANDIDATES or not result.nested:
        roots = {providers[pid].root_id for pid in used}
        shown = sorted(pid for pid, p in providers.items()
                       if p.root_id in roots)
    else:
        shown = sorted(used)
    rc_names = result.rc_names
    trait_names = result.trait_names
    all_resources = version >= ALL_SUMMARY_RESOURCES
    requested = result.requested
    traits = version >= TRAITS
    nested = version >= NESTED_CANDIDATES
    summaries = {}
    trait_lists = {}    # providers mostly share a few trait sets
    # ... and inventories (one object each, see research_context.Trees)
    resource_maps = {}
    for pid in shown:
        p = providers[pid]
        inventories = p.inventories
        resources = resource_maps.get(id(inventories))
        if resources is None:
            resources = resource_maps[id(inventories)] = {
                rc_names[rc]: {'capacity': inventories[rc].capacity,
                               'used': inventories[rc].used}
                for rc in sorted(inventories)
                if all_resources or rc in requested}
        summary = {'resources': resources}
        if traits:
            names = trait_lists.get(p.traits)
            if names is None:
                names = trait_lists[p.traits] = [
                    trait_names[t] for t in sorted(p.traits)]
            summary['traits'] = names
        if nested:
            parent = providers.get(p.parent_id)
            summary['parent_provider_uuid'] = parent.uuid if parent else None
            summary['root_provider_uuid'] = providers[p.root_id].uuid
        summaries[p.uuid] = summary
    return summaries


def _search(ctx, groups, root_traits, same_subtree, isolate, limit,
            version, explain=False):
    """Search (objects) and shape the response body for ``version``
    (with the ``explain`` member when asked for)."""
    try:
        result = ac_obj.search(
            ctx, groups, root_traits=root_traits, same_subtree=same_subtree,
            isolate=isolate, limit=limit,
            multi_provider_trees=version >= NESTED_CANDIDATES,
            explain=explain)
    except exception.ResourceClassNotFound as exc:
        raise errors.bad_request(
            'Invalid resource class in resources parameter: %s' % exc)
    except exception.TraitNotFound as exc:
        raise errors.bad_request(str(exc))
    metrics.candidates_searched(result, limit)
    body = {
        'allocation_requests': _allocation_requests(result, version),
        'provider_summaries': _provider_summaries(result, version),
    }
    if explain:
        body['explain'] = result.explain
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

    with util.no_gc_pauses():
        data = _search(ctx, groups, root_traits, same_subtree,
                       group_policy == 'isolate', limit, version,
                       explain=explain)
        return util.json_response(req, data, compact=True)
