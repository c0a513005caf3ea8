"""Set-based database reads for allocation candidates.

A handful of queries, never one per provider:

* ``preflight`` reads the request-wide facts and the roots of the
  sharing providers that could lend a requested class;
* ``Trees.load_matching`` reads whole trees (providers, inventories with
  usage, traits and aggregates) whose roots satisfy necessary conditions
  evaluated in SQL, in one round trip; bounded by a LIMIT (correlated
  EXISTS, so the scan stops early) or not (uncorrelated sets);
* ``root_scan`` pages through such roots alone, ``Trees.load`` loads
  trees by root id.

Statements are built as SQL text with inlined integer ids: building
SQLAlchemy expression trees with many aliases cost more than running
the queries. Everything used is portable (SQLite, MySQL, PostgreSQL).
"""

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
from placement.objects import candidate_engine as engine
from placement.objects import capacity as capacity_mod

RP = models.RP
INV = models.INV
ALLOC = models.ALLOC
TRAIT = models.TRAIT
RP_TRAIT = models.RP_TRAIT
AGG = models.AGG
RP_AGG = models.RP_AGG

SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'
# Keep IN lists well below every backend's bound-parameter limit.
MAX_IN = 500
# Loads of more trees than this read each kind of row on its own on MySQL.
NARROW_LOAD = 64
# Above every id (the id columns are 32-bit integers).
MAX_ID = 2147483647


def _ids(ids):
    """An SQL list of integer ids (inlined: they are our own integers,
    and literal lists keep statements cheap to build and plan)."""
    return ', '.join(str(int(i)) for i in sorted(ids)) or 'NULL'


def _text(sql):
    return sa.text(sql)


# SQL fragments are plain strings over table aliases: ``r`` the anchor
# root, ``p`` a provider of its tree; inner subqueries use their own.

def not_(clause):
    return 'NOT %s' % clause


def or_(*clauses):
    return '(%s)' % ' OR '.join(clauses)


def and_(clauses):
    return '(%s)' % ' AND '.join(clauses) if clauses else '1 = 1'


_USED = ('(SELECT COALESCE(SUM(a.used), 0) FROM allocations a '
         'WHERE a.resource_provider_id = i.resource_provider_id '
         'AND a.resource_class_id = i.resource_class_id)')


def _ratio():
    """The inventory alias's allocation ratio as the client sent it
    (MySQL's single-precision FLOAT is rounded; see capacity.ratio_sql)."""
    return capacity_mod.ratio_sql(db_api.get_engine().dialect.name,
                                  'i.allocation_ratio')


def correlated(usage):
    """Whether conditions are written as correlated probes: always when
    they compare ``usage`` (bounded scans a LIMIT stops early), and
    always on MySQL/MariaDB, whose optimizer turns the uncorrelated sets
    into table scans per row; elsewhere a whole answer uses sets."""
    return usage or db_api.get_engine().dialect.name == 'mysql'


def fits_clause(p, rc, amount, exact=True, usage=True, correlated=True):
    """Provider ``p`` has room for ``amount`` of ``rc`` (and, when
    ``exact``, the amount respects min_unit/max_unit/step_size). Without
    ``usage`` only the capacity is compared (no sum over allocations: a
    cheap necessary condition when the engine checks usage anyway); not
    ``correlated`` (only without ``usage``) as an uncorrelated set."""
    amount = int(amount)
    if correlated:
        sql = ('EXISTS (SELECT 1 FROM inventories i '
               'WHERE i.resource_provider_id = %s.id '
               'AND i.resource_class_id = %d '
               'AND %s%d <= (i.total - i.reserved) * %s' %
               (p, int(rc), _USED + ' + ' if usage else '', amount,
                _ratio()))
    else:
        # Uncorrelated: the set is built once per statement.
        sql = ('%s.id IN (SELECT i.resource_provider_id FROM inventories i '
               'WHERE i.resource_class_id = %d '
               'AND %d <= (i.total - i.reserved) * %s' %
               (p, int(rc), amount, _ratio()))
    if exact:
        sql += (' AND i.min_unit <= %d AND i.max_unit >= %d '
                'AND %d %% i.step_size = 0' % (amount, amount, amount))
    return sql + ')'


def has_trait_clause(p, trait_ids, inner=False):
    """``p`` has one of ``trait_ids``. At the top level an uncorrelated
    IN set (built once per statement); ``inner`` (inside a correlated
    subquery, where SQLite would rebuild such a set on every evaluation)
    an index probe."""
    if inner:
        return ('EXISTS (SELECT 1 FROM resource_provider_traits t '
                'WHERE t.resource_provider_id = %s.id '
                'AND t.trait_id IN (%s))' % (p, _ids(trait_ids)))
    return ('%s.id IN (SELECT t.resource_provider_id '
            'FROM resource_provider_traits t WHERE t.trait_id IN (%s))' %
            (p, _ids(trait_ids)))


def in_aggs_clause(p, agg_ids, inner=False, column='id'):
    """The provider ``p.<column>`` (``id``, or ``root_provider_id``: its
    root) is in one of ``agg_ids`` (``inner`` as above)."""
    if inner:
        return ('EXISTS (SELECT 1 FROM resource_provider_aggregates g '
                'WHERE g.resource_provider_id = %s.%s '
                'AND g.aggregate_id IN (%s))' % (p, column, _ids(agg_ids)))
    return ('%s.%s IN (SELECT g.resource_provider_id '
            'FROM resource_provider_aggregates g '
            'WHERE g.aggregate_id IN (%s))' % (p, column, _ids(agg_ids)))


def tree_has(root, build, correlated=True):
    """Some provider of ``root``'s tree satisfies ``build('p')``'s
    conditions (a list of clauses); not ``correlated``: as the set of
    roots of such providers (one pass, for scans without a LIMIT)."""
    if not correlated:
        return ('%s.id IN (SELECT p.root_provider_id FROM '
                'resource_providers p WHERE %s)' % (root, and_(build('p'))))
    # ``LIMIT 1 OFFSET 0`` keeps PostgreSQL from turning the EXISTS into
    # a semi-join over every tree (it then runs per candidate root,
    # which a LIMIT on the roots can stop early); harmless elsewhere.
    return ('EXISTS (SELECT 1 FROM resource_providers p '
            'WHERE p.root_provider_id = %s.id AND %s LIMIT 1 OFFSET 0)' %
            (root, and_(build('p'))))


def in_tree_clause(p, root_id):
    return '%s.root_provider_id = %d' % (p, int(root_id))


def is_root_clause(root, root_id):
    return '%s.id = %d' % (root, int(root_id))


def _flag(condition):
    return 'CASE WHEN %s THEN 1 ELSE 0 END' % condition


def preflight(ctx, min_amounts):
    """One round trip for the request-wide facts: (nested: does any
    provider have a parent, sharing trait id or None, available: does
    some provider have room for each requested (rc, amount), sharing
    roots: the roots (id order) of the trees holding a sharing provider
    that has an aggregate and room for one of the requested classes)."""
    sharing_tid = "(SELECT id FROM traits WHERE name = '%s')" % SHARING_TRAIT
    columns = [
        _flag('EXISTS (SELECT 1 FROM resource_providers '
              'WHERE parent_provider_id IS NOT NULL)'),
        sharing_tid,
    ]
    for rc, amount in sorted(min_amounts.items()):
        columns.append(_flag(
            'EXISTS (SELECT 1 FROM inventories i '
            'WHERE i.resource_class_id = %d '
            'AND %s + %d <= (i.total - i.reserved) * %s)' %
            (int(rc), _USED, int(amount), _ratio())))
    sql = 'SELECT 0, ' + ', '.join(columns)
    if min_amounts:
        # The sharing roots as rows (1, root id, 0...).
        room = or_(*[fits_clause('p', rc, amount, exact=False)
                     for rc, amount in sorted(min_amounts.items())])
        sql += (
            ' UNION ALL SELECT DISTINCT 1, p.root_provider_id%s '
            'FROM resource_providers p JOIN resource_provider_traits st '
            'ON st.resource_provider_id = p.id AND st.trait_id = %s '
            'WHERE EXISTS (SELECT 1 FROM resource_provider_aggregates sg '
            'WHERE sg.resource_provider_id = p.id) AND %s' % (
                ', 0' * (len(columns) - 1), sharing_tid, room))
    facts = None
    sharing_roots = set()
    for row in _raw_rows(ctx, sql):
        if row[0] == 0:
            facts = row
        else:
            sharing_roots.add(row[1])
    return (bool(facts[1]), facts[2], all(facts[3:]),
            sorted(sharing_roots))


@db_api.context_manager.reader
def aggregate_ids(ctx, uuids):
    """{uuid: id} of the known aggregates among ``uuids``."""
    if not uuids:
        return {}
    rows = ctx.session.execute(sa.select(AGG.c.uuid, AGG.c.id).where(
        AGG.c.uuid.in_(sorted(uuids))))
    return dict(rows.all())


@db_api.context_manager.reader
def provider_roots(ctx, uuids):
    """{uuid: root id} of the known providers among ``uuids``."""
    if not uuids:
        return {}
    rows = ctx.session.execute(sa.select(RP.c.uuid, RP.c.root_provider_id)
                               .where(RP.c.uuid.in_(sorted(uuids))))
    return dict(rows.all())


def root_scan(ctx, conditions, after, limit, window=None):
    """Up to ``limit`` root ids greater than ``after``, in id order,
    whose trees satisfy every clause of ``conditions('r')``.

    With a ``window``, only the next ``window`` roots are examined, so
    the work stays bounded whatever plan the database picks (PostgreSQL
    turns the EXISTS into semi-joins over every root before applying
    LIMIT). Returns ``(roots, resume)``: ``resume`` is the id to continue
    after, or None when every root has been examined.
    """
    upper = None
    if window is not None:
        upper = window_end(ctx, after, window)
    roots = list(ctx.session.execute(_text(_roots_sql(
        conditions, after, limit,
        None if upper is None else str(int(upper))))).scalars())
    if limit is not None and len(roots) == limit:
        return roots, roots[-1]
    return roots, upper


def _window_sql(after, window):
    return ('SELECT id FROM resource_providers '
            'WHERE parent_provider_id IS NULL AND id > %d '
            'ORDER BY id LIMIT 1 OFFSET %d' % (int(after), int(window) - 1))


def window_end(ctx, after, window):
    """The last root id of the next ``window`` roots after ``after``, or
    None when fewer remain."""
    return ctx.session.execute(_text(_window_sql(after, window))).scalar()


def _roots_sql(conditions, after=0, limit=None, upper=None):
    """Root ids after ``after`` (up to ``upper``, an SQL expression)
    satisfying ``conditions('r')``, in id order, at most ``limit``."""
    sql = ('SELECT r.id FROM resource_providers r '
           'WHERE r.parent_provider_id IS NULL AND r.id > %d %s AND %s '
           'ORDER BY r.id' % (
               int(after), '' if upper is None else 'AND r.id <= %s' % upper,
               and_(conditions('r'))))
    if limit is not None:
        sql += ' LIMIT %d' % int(limit)
    return sql


def _raw_rows(ctx, sql):
    """Rows of ``sql`` (no parameters, no ``%``) straight from the DBAPI
    cursor of the session's connection: thousands of rows skip
    SQLAlchemy's per-row processing."""
    cursor = ctx.session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), MAX_IN):
        yield ids[start:start + MAX_IN]


class Trees(object):
    """The providers loaded so far, whole trees at a time: ``by_id``
    {id: candidate_engine.Provider}, ``trees`` {root id: [providers in id
    order]}, ``trait_names`` and ``rc_names`` {id: name} of every trait
    and (custom) class met."""

    def __init__(self, sharing_tid):
        self.sharing_tid = sharing_tid
        self.by_id = {}
        self.trees = {}
        self.trait_names = {}
        self.rc_names = {}

    def load(self, ctx, root_ids):
        """Load the trees rooted at ``root_ids`` not loaded yet; their
        providers in id order."""
        loaded = []
        for chunk in _chunks(r for r in root_ids if r not in self.trees):
            roots, providers = self._load(
                ctx, '', 'p.root_provider_id IN (%s)' % _ids(chunk),
                narrow=len(chunk) > NARROW_LOAD)
            loaded += providers
        return loaded

    def load_matching(self, ctx, conditions, after=0, limit=None,
                      window=None):
        """Load the trees whose roots root_scan would return, in one
        round trip: the matching root ids in id order (trees loaded
        before included)."""
        upper = None
        if window is not None:
            # Fewer than ``window`` roots left: no bound.
            upper = 'COALESCE((%s), %d)' % (
                _window_sql(after, window), MAX_ID)
        if db_api.get_engine().dialect.name == 'mysql':
            # MySQL/MariaDB merge the CTE into every branch of the load
            # and evaluate the conditions per row: two round trips there.
            roots = list(ctx.session.execute(_text(_roots_sql(
                conditions, after, limit, upper))).scalars())
            self.load(ctx, roots)
            return roots
        roots, _providers = self._load(
            ctx, 'WITH sel AS (%s) ' % _roots_sql(conditions, after, limit,
                                                  upper),
            'p.root_provider_id IN (SELECT sel.id FROM sel)')
        return roots

    def _branches(self, in_trees):
        """The four selects of a load: (kind, text column, other
        columns) for providers, inventories (with usage and the names
        of custom classes), traits and aggregates."""
        return [
            ('0', 'p.uuid', ['p.id', 'p.parent_provider_id',
                             'p.root_provider_id'],
             'FROM resource_providers p WHERE ' + in_trees),
            ('1', 'rc.name', ['i.resource_provider_id',
                              'i.resource_class_id', 'i.total',
                              'i.reserved', 'i.min_unit', 'i.max_unit',
                              'i.step_size', _USED, _ratio()],
             'FROM inventories i JOIN resource_providers p '
             'ON p.id = i.resource_provider_id '
             'LEFT JOIN resource_classes rc ON rc.id = i.resource_class_id '
             'WHERE ' + in_trees),
            ('2', 'tr.name', ['t.resource_provider_id', 'tr.id'],
             'FROM resource_provider_traits t '
             'JOIN traits tr ON tr.id = t.trait_id '
             'JOIN resource_providers p ON p.id = t.resource_provider_id '
             'WHERE ' + in_trees),
            ('3', 'NULL', ['g.resource_provider_id', 'g.aggregate_id'],
             'FROM resource_provider_aggregates g '
             'JOIN resource_providers p ON p.id = g.resource_provider_id '
             'WHERE ' + in_trees),
        ]

    def _rows(self, ctx, prefix, in_trees, narrow):
        """The rows of a load by kind: four lists of ``(rp, a, text,
        ...)`` rows. One UNION ALL (one round trip; padded, the kind
        last), or, when ``narrow`` (many trees) on MySQL, one narrow
        select per kind without padding (its pure-Python driver decodes
        every value: for many rows a third fewer values cost more than
        three round trips)."""
        branches = self._branches(in_trees)
        if narrow and db_api.get_engine().dialect.name == 'mysql':
            selects = ['SELECT %s %s' % (', '.join(
                cols[:2] + ([text] if text != 'NULL' else []) + cols[2:]),
                tail) for _kind, text, cols, tail in branches]
            return [_raw_rows(ctx, sql) for sql in selects]
        width = max(len(cols) for _k, _t, cols, _f in branches)
        selects = []
        for kind, text, cols, tail in branches:
            cols = cols[:2] + [text] + cols[2:] + ['0'] * (width - len(cols))
            selects.append('SELECT %s, %s %s' % (', '.join(cols), kind, tail))
        by_kind = ([], [], [], [])
        for row in _raw_rows(ctx, prefix + ' UNION ALL '.join(selects)):
            by_kind[row[-1]].append(row)
        return by_kind

    def _load(self, ctx, prefix, in_trees, narrow=False):
        """Load the trees ``in_trees`` selects (SQL on ``p``; ``prefix``
        a WITH clause it uses): (their root ids, the providers new to
        this store in id order)."""
        provider_rows, inventory_rows, trait_rows, agg_rows = self._rows(
            ctx, prefix, in_trees, narrow)
        providers = {}
        inventories = {}
        traits = {}
        aggs = {}
        trait_names = self.trait_names
        rc_names = self.rc_names
        inventory = engine.Inventory
        capacity = capacity_mod.capacity
        for row in inventory_rows:
            rp_id, rc = row[0], row[1]
            res = inventories.get(rp_id)
            if res is None:
                res = inventories[rp_id] = {}
            res[rc] = inventory(capacity(row[3], row[4], row[9]),
                                int(row[8]), row[5], row[6], row[7])
            if row[2] is not None:
                rc_names[rc] = row[2]
        for row in provider_rows:
            providers[row[0]] = (row[2], row[1], row[3])
        for row in trait_rows:
            rp_id, trait = row[0], row[1]
            found = traits.get(rp_id)
            if found is None:
                traits[rp_id] = {trait}
            else:
                found.add(trait)
            trait_names[trait] = row[2]
        for row in agg_rows:
            rp_id = row[0]
            found = aggs.get(rp_id)
            if found is None:
                aggs[rp_id] = {row[1]}
            else:
                found.add(row[1])
        by_id = self.by_id
        trees = self.trees
        sharing_tid = self.sharing_tid
        parents = set()
        loaded = []
        roots = set()
        no_traits = no_aggs = frozenset()
        for rp_id in sorted(providers):
            uuid, parent_id, root_id = providers[rp_id]
            roots.add(root_id)
            if rp_id in by_id:
                continue
            rp_traits = traits.get(rp_id)
            rp_traits = frozenset(rp_traits) if rp_traits else no_traits
            rp_aggs = aggs.get(rp_id)
            p = engine.Provider(
                rp_id, uuid, parent_id, root_id,
                inventories=inventories.get(rp_id, {}),
                traits=rp_traits,
                aggs=frozenset(rp_aggs) if rp_aggs else no_aggs,
                sharing=sharing_tid in rp_traits)
            by_id[rp_id] = p
            tree = trees.get(root_id)
            if tree is None:
                trees[root_id] = [p]
            else:
                tree.append(p)
            if parent_id is not None:
                parents.add(parent_id)
            loaded.append(p)
        for p in loaded:
            if p.id in parents:
                p.is_leaf = False
        return sorted(roots), loaded
