"""Set-based database reads for allocation candidates.

A handful of queries, never one per provider:

* ``preflight`` reads the request-wide facts, the roots of the sharing
  providers that could lend a requested class and their aggregates;
* ``Trees.load_all`` reads every tree (a whole answer that only
  capacity filters), kept per process between searches (``every_tree``:
  one check per search, inventories and traits read again only where a
  provider's generation moved); ``Trees.load_roots`` the trees whose
  roots a query selects, with ``holding_roots_sql``, the trees holding
  what the request names;
* ``Trees.load_matching`` reads whole trees (providers, inventories with
  usage, traits and aggregates) whose roots satisfy necessary conditions
  evaluated in SQL, in one round trip; bounded by a LIMIT (correlated
  EXISTS, so the scan stops early) or not (uncorrelated sets);
* ``root_scan`` pages through such roots alone, ``Trees.load`` loads
  trees by root id.

A load is one statement returning one packed string per kind of row
(drivers decode a handful of values, not tens of thousands; PyMySQL
decodes each in Python). Statements are built as SQL text with inlined
integer ids: building SQLAlchemy expression trees with many aliases cost
more than running the queries; on PostgreSQL the ones that recur run as
prepared statements, and ``tune`` sets the planner for a search (the
tables of a fresh cloud often have no statistics). Everything used is
portable (SQLite, MySQL, PostgreSQL).
"""

import collections
import itertools
import weakref

import sqlalchemy as sa

from placement.db import api as db_api
from placement.db import models
# (As db_sql: ``sql`` names the statement being built here.)
from placement.db import sql as db_sql
from placement.objects import candidate_engine as engine
from placement.objects import capacity as capacity_mod
from placement.objects import resource_class as rc_obj

RP = models.RP
INV = models.INV
ALLOC = models.ALLOC
TRAIT = models.TRAIT
RP_TRAIT = models.RP_TRAIT
RP_AGG = models.RP_AGG

SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'
# Keep IN lists well below every backend's bound-parameter limit.
MAX_IN = 500
# Matching roots beyond which MySQL may load every tree instead.
_MANY_ROOTS = 64


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


def tree_size_clause(root, count):
    """``root``'s tree has at least ``count`` providers."""
    return ('(SELECT COUNT(*) FROM resource_providers p '
            'WHERE p.root_provider_id = %s.id) >= %d' % (root, int(count)))


def in_tree_clause(p, root_id):
    return '%s.root_provider_id = %d' % (p, int(root_id))


def is_root_clause(root, root_id):
    return '%s.id = %d' % (root, int(root_id))


def _flag(condition):
    return 'CASE WHEN %s THEN 1 ELSE 0 END' % condition


def preflight(ctx, min_amounts, sharing_traits=False):
    """One round trip for the request-wide facts: (nested: does any
    provider have a parent, sharing trait id or None, available: does
    some provider have room for each requested (rc, amount), sharing
    roots: the roots (id order) of the trees holding a sharing provider
    that has an aggregate and room for one of the requested classes,
    sharing aggregates: {rc: the aggregates of the sharing providers
    with room for it} for every requested class, and with
    ``sharing_traits`` {root id: trait ids of the sharing providers with
    an aggregate in that tree}, else None)."""
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
        # Each sharing provider with an aggregate and room for a class:
        # rows (1, class, aggregate, root), from the (few) providers
        # with the sharing trait.
        sql += (
            ' UNION ALL SELECT DISTINCT 1, i.resource_class_id, '
            'sg.aggregate_id, p.root_provider_id%s '
            'FROM resource_provider_traits st '
            'JOIN resource_providers p ON p.id = st.resource_provider_id '
            'JOIN resource_provider_aggregates sg '
            'ON sg.resource_provider_id = st.resource_provider_id '
            'JOIN inventories i '
            'ON i.resource_provider_id = st.resource_provider_id '
            'WHERE st.trait_id = %s AND i.resource_class_id IN (%s) '
            # (One condition, no OR per class: the inventory stays an
            # index lookup per provider.)
            'AND %s + CASE i.resource_class_id %s END <= '
            '(i.total - i.reserved) * %s' % (
                ', 0' * (len(columns) - 3), sharing_tid, _ids(min_amounts),
                _USED, ' '.join('WHEN %d THEN %d' % (int(rc), int(amount))
                                for rc, amount in sorted(min_amounts.items())),
                _ratio()))
    if sharing_traits:
        # Rows (2, trait, root) of the providers with the sharing trait
        # and an aggregate.
        sql += (
            ' UNION ALL SELECT DISTINCT 2, t.trait_id, p.root_provider_id%s '
            'FROM resource_provider_traits st '
            'JOIN resource_providers p ON p.id = st.resource_provider_id '
            'JOIN resource_provider_traits t '
            'ON t.resource_provider_id = st.resource_provider_id '
            'WHERE st.trait_id = %s AND EXISTS (SELECT 1 FROM '
            'resource_provider_aggregates sg '
            'WHERE sg.resource_provider_id = st.resource_provider_id)' % (
                ', 0' * (len(columns) - 2), sharing_tid))
    facts = None
    sharing_roots = set()
    share_aggs = {rc: set() for rc in min_amounts}
    share_traits = {} if sharing_traits else None
    for row in _raw_rows(ctx, sql):
        if row[0] == 0:
            facts = row
        elif row[0] == 1:
            share_aggs[row[1]].add(row[2])
            sharing_roots.add(row[3])
        else:
            share_traits.setdefault(row[2], set()).add(row[1])
    return (bool(facts[1]), facts[2], all(facts[3:]),
            sorted(sharing_roots),
            {rc: frozenset(aggs) for rc, aggs in share_aggs.items()},
            share_traits)


def narrowest(ctx, agg_sets, trait_sets):
    """(providers in all, [providers in one of each of ``agg_sets``],
    [providers with one of each of ``trait_sets``]): how much a filter on
    them could narrow a search, in one round trip of index counts."""
    counts = ['(SELECT COUNT(*) FROM resource_providers)']
    counts += ['(SELECT COUNT(DISTINCT g.resource_provider_id) FROM '
               'resource_provider_aggregates g WHERE g.aggregate_id IN (%s))'
               % _ids(aggs) for aggs in agg_sets]
    counts += ['(SELECT COUNT(DISTINCT t.resource_provider_id) FROM '
               'resource_provider_traits t WHERE t.trait_id IN (%s))'
               % _ids(traits) for traits in trait_sets]
    row = _raw_rows(ctx, 'SELECT ' + ', '.join(counts))[0]
    return (row[0], list(row[1:1 + len(agg_sets)]),
            list(row[1 + len(agg_sets):]))


def holding_roots_sql(agg_sets, trait_sets, root_traits):
    """SQL of the distinct root ids of the trees holding, for each of
    ``agg_sets`` a provider in one of its aggregates, for each of
    ``trait_sets`` a provider with one of its traits, and whose root has
    every one of ``root_traits`` (see Trees.load_roots)."""
    selects = [
        'SELECT DISTINCT p.root_provider_id AS id FROM '
        'resource_provider_aggregates g JOIN resource_providers p '
        'ON p.id = g.resource_provider_id WHERE g.aggregate_id IN (%s)'
        % _ids(aggs) for aggs in agg_sets]
    selects += [
        'SELECT DISTINCT p.root_provider_id AS id FROM '
        'resource_provider_traits t JOIN resource_providers p '
        'ON p.id = t.resource_provider_id WHERE t.trait_id IN (%s)'
        % _ids(traits) for traits in trait_sets]
    selects += [
        'SELECT DISTINCT t.resource_provider_id AS id FROM '
        'resource_provider_traits t JOIN resource_providers p '
        'ON p.id = t.resource_provider_id '
        'WHERE t.trait_id = %d AND p.root_provider_id = p.id' % int(tid)
        for tid in root_traits]
    return ' INTERSECT '.join(selects)


@db_api.context_manager.reader
def resolve_names(ctx, trait_names, agg_uuids):
    """({name: id} of the known traits among ``trait_names``, {uuid: id}
    of the known aggregates among ``agg_uuids``), in one round trip."""
    selects, params = [], []
    for sql, values in (
            ('SELECT 0, name, id FROM traits WHERE name IN (%s)',
             trait_names),
            ('SELECT 1, uuid, id FROM placement_aggregates '
             'WHERE uuid IN (%s)', agg_uuids)):
        if values:
            selects.append(sql % db_sql.marks(len(values)))
            params.extend(sorted(values))
    found = ({}, {})
    if selects:
        for kind, name, value in db_sql.execute(
                db_sql.connection(ctx), ' UNION ALL '.join(selects),
                params).all():
            found[kind][name] = value
    return found


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

    With a ``window``, only roots among the next ``window`` ids are
    examined (see window_end), so the work stays bounded whatever plan
    the database picks (PostgreSQL turns the EXISTS into semi-joins over
    every root before applying LIMIT). Returns ``(roots, resume)``:
    ``resume`` is the id to continue after, or None when every root has
    been examined.
    """
    upper = None
    if window is not None:
        upper = window_end(ctx, after, window)
    roots = [row[0] for row in _raw_rows(ctx, _roots_sql(
        conditions, after, limit,
        None if upper is None else str(int(upper))))]
    if limit is not None and len(roots) == limit:
        return roots, roots[-1]
    return roots, upper


# A root, written so that scans in id order walk the primary key from
# ``after`` and stop at their LIMIT (an index on the parent would read
# every root first).
_IS_ROOT = '%s.root_provider_id = %s.id'


def window_end(ctx, after, window):
    """The upper id of the window of the next ``window`` ids after
    ``after`` (a range of the primary key: the work of a scan stays
    bounded whatever N), or None when no provider lies beyond it."""
    bound = int(after) + int(window)
    rows = _raw_rows(ctx, 'SELECT w.id FROM resource_providers w '
                     'WHERE w.id > %d ORDER BY w.id LIMIT 1' % bound)
    return bound if rows else None


def _roots_sql(conditions, after=0, limit=None, upper=None):
    """Root ids after ``after`` (up to ``upper``, an SQL expression)
    satisfying ``conditions('r')``, in id order, at most ``limit``."""
    sql = ('SELECT r.id FROM resource_providers r '
           'WHERE %s AND r.id > %d %s AND %s '
           'ORDER BY r.id' % (
               _IS_ROOT % ('r', 'r'), int(after),
               '' if upper is None else 'AND r.id <= %s' % upper,
               and_(conditions('r'))))
    if limit is not None:
        sql += ' LIMIT %d' % int(limit)
    return sql


def _raw_rows(ctx, sql, fetch=True):
    """Rows of ``sql`` (no parameters) straight from the DBAPI cursor of
    the session's connection: thousands of rows skip SQLAlchemy's
    per-row processing. On PostgreSQL a query met again runs as a
    prepared statement (see _prepared)."""
    conn = ctx.session.connection().connection
    cursor = conn.cursor()
    try:
        if (_use_prepared(ctx) and
                sql.startswith(('SELECT', 'WITH'))):
            sql = _prepared(conn, cursor, sql)
        settings = ctx.session.info.pop(_SETTINGS, None)
        if settings:
            # (PostgreSQL runs the statements of one query string in
            # turn, each planned after the one before has run.)
            sql = 'SELECT %s; %s' % (', '.join(
                "set_config('%s', 'off', true)" % name
                for name in sorted(settings)), sql)
        cursor.execute(sql)
        return cursor.fetchall() if fetch else None
    finally:
        cursor.close()


# Prepared statements kept per connection, and queries remembered as met
# once (the second meeting prepares them).
PREPARED_MAX = 128
_names = itertools.count()


def _use_prepared(ctx):
    return (db_api.get_engine().dialect.name == 'postgresql' and
            ctx.config.placement_database.prepared_statements)


def _prepared(conn, cursor, sql):
    """``EXECUTE`` of a statement prepared for ``sql`` on ``conn``, or
    ``sql`` itself the first time it is met. Planning the statements of
    a search costs PostgreSQL about as much as running them, and the
    same requests (flavors) recur: a query met again is planned once
    per connection. The statements live with the DBAPI connection (the
    pool keeps ``info`` with it), at most PREPARED_MAX, least recently
    used deallocated first."""
    info = conn.info
    statements = info.get('placement_prepared')
    if statements is None:
        statements = info['placement_prepared'] = collections.OrderedDict()
        info['placement_met'] = collections.OrderedDict()
    name = statements.get(sql)
    if name is not None:
        statements.move_to_end(sql)
        return 'EXECUTE ' + name
    met = info['placement_met']
    if sql not in met:
        met[sql] = True
        if len(met) > PREPARED_MAX:
            met.popitem(last=False)
        return sql
    del met[sql]
    name = 'placement_q%d' % next(_names)
    cursor.execute('PREPARE %s AS %s' % (name, sql))
    statements[sql] = name
    if len(statements) > PREPARED_MAX:
        _old, old_name = statements.popitem(last=False)
        cursor.execute('DEALLOCATE ' + old_name)
    return 'EXECUTE ' + name


# Planner settings (see tune) waiting for the search's next statement,
# in the session's info: a session is one transaction, as the settings.
_SETTINGS = 'placement_planner_off'


def tune(ctx, probes=False, hashes=False):
    """Planner settings for the rest of a search's read transaction on
    PostgreSQL, sent with its next statement (no round trip of their
    own): never JIT-compile (a search's statements run in milliseconds;
    compiling one costs tens of them, and without statistics the cost
    estimates often cross jit_above_cost); with ``probes``, read and
    join by index probes only (a bounded search reads a few trees at a
    time, and without statistics the planner would scan or hash whole
    tables for each: work growing with the cloud, not with the answer);
    with ``hashes``, join by hashing only."""
    if db_api.get_engine().dialect.name != 'postgresql':
        return
    settings = ctx.session.info.setdefault(_SETTINGS, set())
    settings.add('jit')
    if probes:
        settings.update(['enable_hashjoin', 'enable_mergejoin',
                         'enable_seqscan'])
    if hashes:
        settings.add('enable_nestloop')


def _joined(dialect, columns, sep):
    """SQL for the text of ``columns`` (non-NULL) joined by ``sep``."""
    if dialect == 'mysql':
        return "CONCAT_WS('%s', %s)" % (sep, ', '.join(columns))

    def text(column):
        if dialect == 'sqlite' and column == _ratio():
            # 17 significant digits give back the same double.
            return "printf('%%!.17g', %s)" % column
        # (PostgreSQL >= 12 writes a double in its shortest exact form.)
        return 'CAST(%s AS TEXT)' % column
    return (" || '%s' || " % sep).join(text(c) for c in columns)


def _packed(dialect, columns):
    """SQL aggregating ``columns`` of every row into one comma-separated
    string (rows one after the other, in no particular order)."""
    row = _joined(dialect, columns, ',')
    if dialect == 'mysql':
        return "GROUP_CONCAT(%s SEPARATOR ',')" % row
    if dialect == 'postgresql':
        return "string_agg(%s, ',')" % row
    return "group_concat(%s, ',')" % row


# Longer than any load: the packed kinds of a load are one string each.
_CONCAT_MAX = 1073741824


def _allow_long_concat(ctx):
    """MySQL cuts GROUP_CONCAT at group_concat_max_len (1 MB by
    default): raise it once per connection (the pool keeps ``info``
    with the DBAPI connection)."""
    conn = ctx.session.connection().connection
    if not conn.info.get('long_concat'):
        _raw_rows(ctx, 'SET SESSION group_concat_max_len = %d' %
                  _CONCAT_MAX, fetch=False)
        conn.info['long_concat'] = True


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), MAX_IN):
        yield ids[start:start + MAX_IN]


def _parse_ids(text):
    return frozenset(map(int, text.split(' ')))


def _parse_inventories(text):
    """{rc: Inventory} of a provider's inventories (records of class,
    total, reserved, min_unit, max_unit, step_size, used, ratio)."""
    inventories = {}
    capacity = capacity_mod.capacity
    for record in text.split(' '):
        rc, total, reserved, min_unit, max_unit, step, used, ratio = (
            record.split(':'))
        inventories[int(rc)] = engine.Inventory(
            capacity(int(total), int(reserved), float(ratio)), int(used),
            int(min_unit), int(max_unit), int(step))
    return inventories


def _group(columns):
    """(ids, texts) columns with a row per inventory, trait or aggregate
    as columns with a row per provider (see Trees._branches)."""
    texts = {}
    for rp_id, text in zip(columns[0], columns[1]):
        found = texts.get(rp_id)
        if found is None:
            texts[rp_id] = [text]
        else:
            found.append(text)
    return list(texts), [' '.join(t) for t in texts.values()]


def _per_provider(columns, parsed, parse):
    """{provider id: parse(text)} of (ids, texts) ``columns``, each
    distinct text parsed once (``parsed`` keeps them: the results are
    shared, never changed)."""
    out = {}
    for rp_id, text in zip(map(int, columns[0]), columns[1]):
        value = parsed.get(text)
        if value is None:
            value = parsed[text] = parse(text)
        out[rp_id] = value
    return out


def packed_columns(ctx, prefix, branches, unchanged=None):
    """The columns of ``branches`` ([(columns, FROM/WHERE tail)], see
    Trees._branches), values as text or as the driver's types, and each
    kind's packed text (None when read as rows); columns None when every
    text is the same as in ``unchanged`` (texts of an earlier call). One
    round trip of a row per kind: each kind's values joined into one
    string, so that the drivers decode a few values, not tens of
    thousands (PyMySQL decodes each in Python); a kind that came back
    short (MySQL cutting GROUP_CONCAT at max_allowed_packet, or a NULL
    value) is read again as plain rows."""
    dialect = db_api.get_engine().dialect.name
    if dialect == 'mysql':
        _allow_long_concat(ctx)
    selects = ['SELECT %d, COUNT(*), %s %s' % (
        kind, _packed(dialect, cols), tail)
        for kind, (cols, tail) in enumerate(branches)]
    rows = _raw_rows(ctx, prefix + ' UNION ALL '.join(selects))
    if unchanged is not None and all(
            (text or '') == unchanged[kind] for kind, _count, text in rows):
        return None, unchanged
    columns = [None] * len(branches)
    texts = [None] * len(branches)
    for kind, count, text in rows:
        cols, tail = branches[kind]
        width = len(cols)
        values = text.split(',') if text else []
        if len(values) == count * width:
            columns[kind] = [values[j::width] for j in range(width)]
            texts[kind] = text or ''
        else:
            plain = _raw_rows(ctx, prefix + 'SELECT %s %s' % (
                ', '.join(cols), tail))
            columns[kind] = [list(c) for c in zip(*plain)] or [
                [] for _ in cols]
    return columns, texts


def _names_branch(traits):
    """The names of a load, as (columns, tail): the traits of the rows
    ``traits`` (a FROM/WHERE tail on alias ``t``) selects and every
    custom class, each row (kind 0 / 1, id, name)."""
    return (['n.k', 'n.id', 'n.name'],
            'FROM (SELECT 0 AS k, tr.id AS id, tr.name AS name '
            'FROM traits tr WHERE tr.id IN (SELECT t.trait_id %s) '
            'UNION ALL SELECT 1, rc.id, rc.name FROM resource_classes rc '
            'WHERE rc.id >= %d) n' % (traits, rc_obj.MIN_CUSTOM_ID))


def _read_names(name_cols, trait_names, rc_names):
    named = (trait_names, rc_names)
    for kind, name_id, name in zip(map(int, name_cols[0]),
                                   map(int, name_cols[1]), name_cols[2]):
        named[kind][name_id] = name


def _sharing_tid(trait_names):
    return next((tid for tid, name in trait_names.items()
                 if name == SHARING_TRAIT), None)


def _add_providers(by_id, trees, providers, inventories, traits, aggs,
                   sharing_tid):
    """Add ``providers`` ((id, parent id or 0, uuid, root id) in id order,
    whole trees) not in ``by_id`` yet to ``by_id`` and ``trees``, with
    their {id: value} ``inventories``, ``traits`` and ``aggs``: (the root
    ids of all, the providers added)."""
    parents = set()
    loaded = []
    roots = set()
    no_traits = no_aggs = frozenset()
    for rp_id, parent_id, uuid, root_id in providers:
        parent_id = parent_id or None
        roots.add(root_id)
        if rp_id in by_id:
            continue
        rp_traits = traits.get(rp_id, no_traits)
        p = engine.Provider(
            rp_id, uuid, parent_id, root_id,
            inventories=inventories.get(rp_id, {}),
            traits=rp_traits, aggs=aggs.get(rp_id, no_aggs),
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
    return roots, loaded


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
        # Roots to load with the next load (see also_load).
        self._pending = []
        # Parsed per-provider strings: providers alike share one object.
        self._inventories = {}
        self._id_sets = {}

    def also_load(self, root_ids):
        """Load the trees of ``root_ids`` with the next load (the trees of
        sharing providers: one round trip less)."""
        self._pending = sorted(set(self._pending) | set(root_ids))

    def _take_pending(self):
        pending = [r for r in self._pending if r not in self.trees]
        self._pending = []
        return pending

    def load(self, ctx, root_ids):
        """Load the trees rooted at ``root_ids`` not loaded yet; their
        providers in id order."""
        loaded = []
        root_ids = sorted(set(root_ids) | set(self._take_pending()))
        for chunk in _chunks(r for r in root_ids if r not in self.trees):
            roots, providers = self._load(
                ctx, '', 'p.root_provider_id IN (%s)' % _ids(chunk))
            loaded += providers
        return loaded

    def load_range(self, ctx, after, upper):
        """Load the trees whose root ids are in (``after``, ``upper``],
        and the pending ones, in one round trip with no condition but
        the range: those root ids in id order."""
        in_range = 'p.root_provider_id > %d AND p.root_provider_id <= %d' % (
            int(after), int(upper))
        pending = self._take_pending()
        if pending:
            in_range = '(%s OR p.root_provider_id IN (%s))' % (
                in_range, _ids(pending))
        self._load(ctx, '', in_range)
        return [root for root in sorted(self.trees)
                if after < root <= upper]

    def load_all(self, ctx):
        """Load every tree (for a whole answer that most trees can serve:
        one plain pass beats any filter; see every_tree); all root ids
        in id order."""
        self._pending = []
        snapshot = every_tree(ctx)
        self.by_id.update(snapshot.by_id)
        # (Lists of our own: a later load may add to a tree.)
        self.trees.update((root, list(tree))
                          for root, tree in snapshot.trees.items())
        self.trait_names.update(snapshot.trait_names)
        self.rc_names.update(snapshot.rc_names)
        if self.sharing_tid is None:
            self.sharing_tid = snapshot.sharing_tid
        return list(snapshot.roots)

    def load_matching(self, ctx, conditions, after=0, limit=None,
                      window=None):
        """Load the trees whose roots root_scan would return, in one
        round trip: the matching root ids in id order (trees loaded
        before included)."""
        upper = None
        if window is not None:
            upper = str(int(after) + int(window))
        return self.load_roots(
            ctx, _roots_sql(conditions, after, limit, upper),
            whole=limit is None)

    def load_roots(self, ctx, roots_sql, whole=False):
        """Load the trees of the distinct root ids ``roots_sql`` selects
        (and the pending ones) in one round trip: the selected root ids
        in id order. ``whole``: for a whole answer, where the roots may
        be most of the cloud's."""
        dialect = db_api.get_engine().dialect.name
        if dialect == 'mysql':
            # MySQL/MariaDB merge the CTE into every branch of the load
            # and evaluate the conditions per row: two round trips there.
            roots = sorted(row[0] for row in _raw_rows(ctx, roots_sql))
            if whole and len(roots) > _MANY_ROOTS and len(roots) * 2 > (
                    _raw_rows(ctx, 'SELECT COUNT(*) FROM resource_providers '
                              'WHERE parent_provider_id IS NULL')[0][0]):
                # Most trees: one plain pass beats lists of their roots.
                self.load_all(ctx)
            else:
                self.load(ctx, roots)
            return roots
        if whole:
            # The conditions of a whole answer are uncorrelated sets;
            # without statistics PostgreSQL probes them per root in
            # nested loops (several times slower than hashing each set
            # once).
            tune(ctx, hashes=True)
        prefix = 'WITH sel AS (%s)' % roots_sql
        pending = self._take_pending()
        if pending:
            # One set of roots (an OR of two sets would be probed per row).
            prefix += (', anchor AS (SELECT sel.id FROM sel UNION SELECT '
                       'r.id FROM resource_providers r WHERE r.id IN (%s))'
                       % _ids(pending))
        roots = 'SELECT %s.id FROM %s' % (('anchor',) * 2 if pending
                                          else ('sel',) * 2)
        if dialect == 'postgresql':
            # An array probes the tree index; a semi-join without
            # statistics would hash every provider.
            in_trees = 'p.root_provider_id = ANY (ARRAY(%s))' % roots
        else:
            in_trees = 'p.root_provider_id IN (%s)' % roots
        self._load(ctx, prefix + ' ', in_trees, selected=True)
        return self._selected

    def _branches(self, dialect, in_trees, selected=False):
        """The selects of a load, as (columns, tail): providers; the
        inventories with usage, the traits and the aggregates, each row
        as (provider, its values joined in one string: see _group and
        _parse_*); and names (see _names_branch). Every column is non
        NULL (a parent of 0 means none; ids start at 1). (Grouping the
        rows per provider in SQL cost the databases more than it
        saved.)"""
        def of(alias, table):
            # From the trees' providers to their rows (MySQL, whose
            # statistics may lag a fresh cloud, would otherwise scan the
            # rows' whole table for a few trees).
            return ('FROM resource_providers p %s %s %s ON %s.'
                    'resource_provider_id = p.id WHERE %s' % (
                        'STRAIGHT_JOIN' if dialect == 'mysql' else 'JOIN',
                        table, alias, alias, in_trees))

        def per_provider(alias, tail, columns):
            return ['%s.resource_provider_id' % alias,
                    _joined(dialect, columns, ':')], tail

        traits = of('t', 'resource_provider_traits')
        return [
            (['p.id', 'COALESCE(p.parent_provider_id, 0)', 'p.uuid',
              'p.root_provider_id'],
             'FROM resource_providers p WHERE ' + in_trees),
            per_provider('i', of('i', 'inventories'), [
                'i.resource_class_id', 'i.total', 'i.reserved',
                'i.min_unit', 'i.max_unit', 'i.step_size', _USED,
                _ratio()]),
            per_provider('t', traits, ['t.trait_id']),
            per_provider('g', of('g', 'resource_provider_aggregates'),
                         ['g.aggregate_id']),
            _names_branch(traits),
        ] + ([(['sel.id'], 'FROM sel')] if selected else [])

    def _columns(self, ctx, prefix, in_trees, selected=False):
        """The columns of a load by kind (see _branches and
        packed_columns)."""
        branches = self._branches(db_api.get_engine().dialect.name,
                                  in_trees, selected)
        return packed_columns(ctx, prefix, branches)[0]

    def _load(self, ctx, prefix, in_trees, selected=False):
        """Load the trees ``in_trees`` selects (SQL on ``p``; ``prefix``
        a WITH clause it uses): (their root ids, the providers new to
        this store in id order)."""
        columns = self._columns(ctx, prefix, in_trees, selected)
        if selected:
            self._selected = sorted(map(int, columns.pop()[0]))
        (provider_cols, inventory_cols, trait_cols, agg_cols,
         name_cols) = columns
        inventory_cols, trait_cols, agg_cols = [
            _group(cols) for cols in (inventory_cols, trait_cols, agg_cols)]
        _read_names(name_cols, self.trait_names, self.rc_names)
        if self.sharing_tid is None:
            # (Unknown before the first load of every tree: the trait's
            # id, if any loaded provider has it.)
            self.sharing_tid = _sharing_tid(self.trait_names)
        inventories = _per_provider(inventory_cols, self._inventories,
                                    _parse_inventories)
        traits = _per_provider(trait_cols, self._id_sets, _parse_ids)
        aggs = _per_provider(agg_cols, self._id_sets, _parse_ids)
        providers = sorted(zip(map(int, provider_cols[0]),
                               map(int, provider_cols[1]), provider_cols[2],
                               map(int, provider_cols[3])))
        roots, loaded = _add_providers(
            self.by_id, self.trees, providers, inventories, traits, aggs,
            self.sharing_tid)
        return sorted(roots), loaded


# Every tree, kept per process between whole answers (see every_tree):
# {engine: _Snapshot}.
_SNAPSHOTS = weakref.WeakKeyDictionary()


class _Snapshot(object):
    """Every tree as one read saw it: ``by_id``, ``trees``, ``roots`` (id
    order), ``trait_names``, ``rc_names``, ``sharing_tid`` as in Trees;
    and what it was built from: ``texts``, the packed kinds of the check
    (see _check_branches), ``kept`` {provider id: (key, uuid, inventory
    text, trait text)} and the parsed texts (shared by the providers
    alike)."""

    def __init__(self, texts):
        self.texts = texts
        self.by_id = {}
        self.trees = {}
        self.roots = []
        self.trait_names = {}
        self.rc_names = {}
        self.sharing_tid = None
        self.kept = {}
        self.inventories = {}
        self.id_sets = {}


# What identifies a provider's inventories and traits: its generation
# moves with every change of either, and ids are never reused (the time
# of the last change tells a restored database apart).
_KEY_COLUMNS = ['p.generation', 'COALESCE(p.updated_at, p.created_at)']


def _check_branches(dialect):
    """The selects (see packed_columns) of what a provider may change
    without moving its generation, read for every whole answer: the
    providers with their place in their tree and the key of their
    inventories and traits (see _KEY_COLUMNS), the usage, the
    aggregates, and the names of the custom classes."""
    return [
        (['p.id', 'COALESCE(p.parent_provider_id, 0)',
          'p.root_provider_id'] + _KEY_COLUMNS, 'FROM resource_providers p'),
        (['u.rp', _joined(dialect, ['u.rc', 'u.used'], ':')],
         'FROM (SELECT a.resource_provider_id AS rp, a.resource_class_id '
         'AS rc, SUM(a.used) AS used FROM allocations a GROUP BY '
         'a.resource_provider_id, a.resource_class_id) u'),
        (['g.resource_provider_id', 'g.aggregate_id'],
         'FROM resource_provider_aggregates g'),
        (['rc.id', 'rc.name'],
         'FROM resource_classes rc WHERE rc.id >= %d' % rc_obj.MIN_CUSTOM_ID),
    ]


def _kept_branches(dialect, ids):
    """The selects of the uuids, inventories (without usage) and traits
    (with their names) of the providers ``ids`` (None: all), with their
    keys read alongside."""
    def where(column):
        return '' if ids is None else ' WHERE %s IN (%s)' % (column,
                                                             _ids(ids))
    traits = 'FROM resource_provider_traits t' + where('t.resource_provider_id')
    return [
        (['p.id'] + _KEY_COLUMNS + ['p.uuid'],
         'FROM resource_providers p' + where('p.id')),
        (['i.resource_provider_id', _joined(dialect, [
            'i.resource_class_id', 'i.total', 'i.reserved', 'i.min_unit',
            'i.max_unit', 'i.step_size', _ratio()], ':')],
         'FROM inventories i' + where('i.resource_provider_id')),
        (['t.resource_provider_id', 't.trait_id'], traits),
        (['tr.id', 'tr.name'], 'FROM traits tr WHERE tr.id IN '
         '(SELECT t.trait_id %s)' % traits),
    ]


def _texts_by_id(columns):
    """{provider id: text} of (ids, texts) columns (see _group)."""
    ids, texts = _group(columns)
    return dict(zip(map(int, ids), texts))


def _keys(columns):
    """{provider id: key} of the id and key columns."""
    return {int(values[0]): tuple(map(str, values[1:]))
            for values in zip(*columns)}


def _names_by_id(columns):
    return dict(zip(map(int, columns[0]), columns[1]))


def _parse_kept_inventories(texts):
    """{rc: Inventory} of a provider's (inventory text, usage text):
    records of class, total, reserved, min_unit, max_unit, step_size,
    ratio; and of class, used."""
    inventory_text, usage_text = texts
    used = {}
    if usage_text:
        for record in usage_text.split(' '):
            rc, amount = record.split(':')
            used[int(rc)] = int(amount)
    inventories = {}
    capacity = capacity_mod.capacity
    for record in inventory_text.split(' ') if inventory_text else ():
        rc, total, reserved, min_unit, max_unit, step, ratio = (
            record.split(':'))
        rc = int(rc)
        inventories[rc] = engine.Inventory(
            capacity(int(total), int(reserved), float(ratio)),
            used.get(rc, 0), int(min_unit), int(max_unit), int(step))
    return inventories


def _parsed(cache, old_cache, text, parse):
    value = cache.get(text)
    if value is None:
        value = old_cache.get(text)
        if value is None:
            value = parse(text)
        cache[text] = value
    return value


def every_tree(ctx):
    """Every tree, as the database holds it now. A whole answer reads
    every tree, and most of that is inventories and traits, which only
    change with the provider's generation. So one round trip reads what
    can change without it (usage, aggregates, the trees' shape, names)
    with every provider's key (see _KEY_COLUMNS); inventories and traits
    are read again only for providers whose key moved, and nothing is
    parsed again when nothing changed. The snapshot is kept per process
    and database, never changed once built (a search only reads it)."""
    bind = db_api.get_engine()
    dialect = bind.dialect.name
    old = _SNAPSHOTS.get(bind)
    columns, texts = packed_columns(ctx, '', _check_branches(dialect),
                                    unchanged=old and old.texts)
    if columns is None:
        return old
    snapshot = _build(ctx, dialect, columns, texts, old or _Snapshot(None))
    _SNAPSHOTS[bind] = snapshot
    return snapshot


def _build(ctx, dialect, columns, texts, old):
    provider_cols, usage_cols, agg_cols, class_cols = columns
    new = _Snapshot(texts)
    new.rc_names = _names_by_id(class_cols)
    # (A trait keeps its name: ids are never reused.)
    new.trait_names = dict(old.trait_names)
    keys = _keys([provider_cols[0]] + provider_cols[3:])
    kept = new.kept
    stale = []
    for rp_id, key in keys.items():
        entry = old.kept.get(rp_id)
        if entry is not None and entry[0] == key:
            kept[rp_id] = entry
        else:
            stale.append(rp_id)
    # Most providers new: read them all (no id lists).
    chunks = [None] if len(stale) * 2 > len(keys) else _chunks(stale)
    for chunk in chunks:
        (key_cols, inventory_cols, trait_cols, name_cols), _texts = (
            packed_columns(ctx, '', _kept_branches(dialect, chunk)))
        new.trait_names.update(_names_by_id(name_cols))
        inventories = _texts_by_id(inventory_cols)
        traits = _texts_by_id(trait_cols)
        uuids = key_cols.pop()
        for (rp_id, key), uuid in zip(_keys(key_cols).items(), uuids):
            # (Under the key read with them: a provider changed since
            # the check is read again next time.)
            kept[rp_id] = (key, uuid, inventories.get(rp_id, ''),
                           traits.get(rp_id, ''))
    new.sharing_tid = _sharing_tid(new.trait_names)
    usage = _texts_by_id(usage_cols)
    aggs = _texts_by_id(agg_cols)
    inventories, traits, agg_sets = {}, {}, {}
    providers = []
    for rp_id, parent_id, root_id in sorted(zip(
            map(int, provider_cols[0]), map(int, provider_cols[1]),
            map(int, provider_cols[2]))):
        entry = kept.get(rp_id)
        if entry is None:
            continue    # deleted since the check
        providers.append((rp_id, parent_id, entry[1], root_id))
        inventories[rp_id] = _parsed(
            new.inventories, old.inventories, (entry[2], usage.get(rp_id)),
            _parse_kept_inventories)
        if entry[3]:
            traits[rp_id] = _parsed(new.id_sets, old.id_sets, entry[3],
                                    _parse_ids)
        if rp_id in aggs:
            agg_sets[rp_id] = _parsed(new.id_sets, old.id_sets,
                                      aggs[rp_id], _parse_ids)
    roots, _loaded = _add_providers(new.by_id, new.trees, providers,
                                    inventories, traits, agg_sets,
                                    new.sharing_tid)
    new.roots = sorted(roots)
    return new
