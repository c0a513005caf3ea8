"""Parsing of the query parameters shared by ``GET /resource_providers`` and
``GET /allocation_candidates``: ``resources``, ``required`` (traits) and
``member_of`` (aggregates). Errors are 400s with the spec's exact texts.

API:

``parse_resources(ctx, value)`` -> ``{rc_name: int amount}``
    Syntax checks, then (when ``ctx`` is not None) every class must exist:
    ``Invalid resource class in resources parameter: No such resource class
    <RC>.``  ``parse_resources(None, value)`` only checks the syntax;
    ``check_resource_classes_exist(ctx, names)`` does the second step and
    returns ``{name: id}``.

``parse_required(values, version, allow_any_of=True)`` -> ``RequiredTraits``
    ``values`` is every occurrence of the key (``req.GET.getall(key)``);
    below 1.39 only the last one counts, from 1.39 all of them AND together.
    ``RequiredTraits.any_of`` is a list of frozensets (a plain required
    trait is a one-element frozenset; ``in:A,B`` is ``{A, B}``) and
    ``RequiredTraits.forbidden`` a set. Trait existence is NOT checked.
    ``allow_any_of=False`` (``root_required``) rejects ``in:`` at any
    version with the "only supported since microversion 1.39" text.

``check_traits_exist(ctx, required_traits, prefix='')`` -> ``{name: id}``
    400 ``<prefix>No such trait(s): <T>.`` for unknown names (the RP list
    uses ``RP_LIST_TRAIT_PREFIX``).

``parse_member_of(values, version)`` -> ``MemberOf``
    ``values`` is every occurrence of the key. ``MemberOf.any_of`` is a
    list of sets of aggregate uuids (one per positive occurrence; the
    provider must be in at least one aggregate of every set) and
    ``MemberOf.forbidden`` a set (the provider must be in none).
"""

import collections
import re
import uuid

from placement import errors
from placement import exception
from placement.objects import resource_class as rc_obj
from placement.objects import trait as trait_obj
from placement.schemas import allocation as alloc_schema

# Versions at which the syntax of these parameters widens.
FORBIDDEN_TRAITS_MIN_VERSION = (1, 22)
MULTIPLE_MEMBER_OF_MIN_VERSION = (1, 24)
FORBIDDEN_AGGREGATES_MIN_VERSION = (1, 32)
ANY_OF_TRAITS_MIN_VERSION = (1, 39)

# Amounts are stored in (and compared with) signed 32-bit columns.
MAX_AMOUNT = alloc_schema.MAX_AMOUNT
_AMOUNT_RE = re.compile('[+-]?[0-9]+')

RP_LIST_TRAIT_PREFIX = 'Invalid trait(s) in "required" parameter: '

_RESOURCES_FORM = ('Badly formed resources parameter. Expected resources '
                   'query string parameter in form: '
                   '?resources=VCPU:2,MEMORY_MB:1024. Got: %s.')
_REQUIRED_FORM = ("Invalid query string parameters: Expected 'required' "
                  "parameter value of the form: %s. Got: %s")
_ANY_OF_FORM = "The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC'"
_ANY_OF_TOO_EARLY = (_ANY_OF_FORM +
                     ' only supported since microversion 1.39. Got: %s')
_ANY_OF_FORBIDDEN = _ANY_OF_FORM + ' does not support forbidden traits. Got: %s'
_ANY_OF_EMPTY = (_ANY_OF_FORM + ' does not allow empty traits. '
                 'Got an empty trait in: %s')
_MEMBER_OF_BAD_UUID = ("Invalid query string parameters: Expected "
                       "'member_of' parameter to contain valid UUID(s). "
                       "Got: %s")
_MEMBER_OF_MULTI_VALUE = ("Multiple values for 'member_of' must be prefixed "
                          "with the 'in:' or '!in:' keyword using the valid "
                          "microversion.")
_MEMBER_OF_MULTI_KEY = 'Multiple member_of parameters are not supported'
_MEMBER_OF_FORBIDDEN = ('Forbidden member_of parameters are not supported in '
                        'the specified microversion')


# ---------------------------------------------------------------- resources

def parse_resources(ctx, value):
    """``RC:amt,RC:amt`` -> {rc_name: amount}; 400 on any problem. With a
    ``ctx``, unknown classes are a 400 too."""
    if value is None or value.strip() == '':
        raise errors.bad_request(_RESOURCES_FORM % 'empty string')
    result = {}
    for item in value.split(','):
        parts = item.split(':')
        if len(parts) != 2:
            raise errors.bad_request(_RESOURCES_FORM % item)
        rc_name, amount = parts[0].strip(), parts[1].strip()
        # ASCII digits only: int() would also take '1_0' and other
        # scripts' digits.
        if not _AMOUNT_RE.fullmatch(amount):
            raise errors.bad_request(
                'Requested resource %s expected positive integer amount. '
                'Got: %s.' % (rc_name, amount))
        value = bounded_int(amount, MAX_AMOUNT)
        if value < 1:
            raise errors.bad_request(
                'Requested resource %s requires amount >= 1. Got: %s.' %
                (rc_name, amount))
        if value > MAX_AMOUNT:
            raise errors.bad_request(
                'Requested resource %s requires amount <= %d. Got: %s.' %
                (rc_name, MAX_AMOUNT, amount))
        result[rc_name] = value
    if ctx is not None:
        check_resource_classes_exist(ctx, result)
    return result


def bounded_int(text, bound):
    """``int(text)`` of a ``[+-]?[0-9]+`` string, except that a magnitude
    above ``bound`` is returned as ``±(bound + 1)`` (so thousands of
    digits cannot hit int()'s conversion limit)."""
    sign = -1 if text.startswith('-') else 1
    digits = text.lstrip('+-').lstrip('0') or '0'
    if len(digits) > len(str(bound)):
        return sign * (bound + 1)
    return sign * min(int(digits), bound + 1)


def check_resource_classes_exist(ctx, names):
    """{name: id} for ``names``; 400 naming the first unknown class."""
    names = list(names)
    ids = rc_obj.ids_from_names(ctx, names)
    for name in names:
        if name not in ids:
            raise errors.bad_request(
                'Invalid resource class in resources parameter: No such '
                'resource class %s.' % name)
    return ids


# ----------------------------------------------------------------- required

class RequiredTraits(object):
    """Parsed traits: every ``any_of`` term must be satisfied (by at least
    one of its names) and no ``forbidden`` name may be present."""

    def __init__(self, any_of=(), forbidden=()):
        self.any_of = []
        for term in any_of:
            term = frozenset(term)
            if term not in self.any_of:
                self.any_of.append(term)
        self.forbidden = set(forbidden)

    @property
    def required(self):
        """Names of the plain (single-trait) required terms."""
        return {name for term in self.any_of if len(term) == 1
                for name in term}

    def names(self):
        """Every trait name mentioned (required or forbidden)."""
        result = set(self.forbidden)
        for term in self.any_of:
            result |= term
        return result

    def conflicts(self):
        """Sorted names of terms whose every alternative is forbidden."""
        return sorted(name for term in self.any_of
                      if term <= self.forbidden for name in term)

    def __bool__(self):
        return bool(self.any_of or self.forbidden)

    def __eq__(self, other):
        return (isinstance(other, RequiredTraits) and
                set(self.any_of) == set(other.any_of) and
                self.forbidden == other.forbidden)

    def __repr__(self):
        return 'RequiredTraits(any_of=%r, forbidden=%r)' % (
            [sorted(t) for t in self.any_of], sorted(self.forbidden))


def _parse_any_of(value, version, allow_any_of):
    if not allow_any_of or version < ANY_OF_TRAITS_MIN_VERSION:
        raise errors.bad_request(_ANY_OF_TOO_EARLY % value)
    names = [name.strip() for name in value[len('in:'):].split(',')]
    if not all(names):
        raise errors.bad_request(_ANY_OF_EMPTY % value)
    if any(name.startswith('!') for name in names):
        raise errors.bad_request(_ANY_OF_FORBIDDEN % value)
    return frozenset(names)


def parse_required(values, version, allow_any_of=True):
    """Every occurrence of a ``required`` key -> RequiredTraits."""
    if isinstance(values, str):
        values = [values]
    if version < ANY_OF_TRAITS_MIN_VERSION:
        values = list(values)[-1:]
    allow_forbidden = version >= FORBIDDEN_TRAITS_MIN_VERSION
    form = ('HW_CPU_X86_VMX,!CUSTOM_MAGIC' if allow_forbidden
            else 'HW_CPU_X86_VMX,CUSTOM_MAGIC')
    any_of = []
    forbidden = set()
    for value in values:
        if value.strip().startswith('in:'):
            any_of.append(_parse_any_of(value.strip(), version, allow_any_of))
            continue
        for name in (n.strip() for n in value.split(',')):
            if not name:
                raise errors.bad_request(_REQUIRED_FORM % (form, value))
            if name.startswith('!'):
                if not allow_forbidden:
                    raise errors.bad_request(_REQUIRED_FORM % (form, value))
                # Upstream quirk: any number of leading '!' means one.
                name = name.lstrip('!')
                if not name:
                    raise errors.bad_request(_REQUIRED_FORM % (form, value))
                forbidden.add(name)
            else:
                any_of.append(frozenset([name]))
    return RequiredTraits(any_of, forbidden)


def check_traits_exist(ctx, required_traits, prefix=''):
    """{name: id} of every trait in ``required_traits``; 400
    ``<prefix>No such trait(s): <T>.`` naming the unknown ones."""
    try:
        return trait_obj.ids_from_names(ctx, required_traits.names())
    except exception.TraitNotFound as exc:
        raise errors.bad_request('%s%s' % (prefix, exc))


# ---------------------------------------------------------------- member_of

MemberOf = collections.namedtuple('MemberOf', ['any_of', 'forbidden'])
MemberOf.__doc__ = """Parsed aggregates: for every set in ``any_of`` the
provider is in at least one of its aggregates; it is in none of
``forbidden``."""


def _is_uuid(value):
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _uuid_list(text):
    uuids = text.split(',')
    bad = [u for u in uuids if not _is_uuid(u)]
    if bad:
        raise errors.bad_request(_MEMBER_OF_BAD_UUID % bad[0])
    return set(uuids)


def parse_member_of(values, version):
    """Every occurrence of a ``member_of`` key -> MemberOf."""
    if isinstance(values, str):
        values = [values]
    values = list(values)
    if len(values) > 1 and version < MULTIPLE_MEMBER_OF_MIN_VERSION:
        raise errors.bad_request(_MEMBER_OF_MULTI_KEY)
    any_of = []
    forbidden = set()
    for value in values:
        negative = value.startswith('!')
        if negative:
            if version < FORBIDDEN_AGGREGATES_MIN_VERSION:
                raise errors.bad_request(_MEMBER_OF_FORBIDDEN)
            value = value[1:]
        if value.startswith('in:'):
            uuids = _uuid_list(value[len('in:'):])
        elif ',' in value:
            raise errors.bad_request(_MEMBER_OF_MULTI_VALUE)
        else:
            uuids = _uuid_list(value)
        if negative:
            forbidden |= uuids
        else:
            any_of.append(uuids)
    return MemberOf(any_of, forbidden)
