"""Summary statistics and the ours/baseline comparison table.

Pure functions on lists of milliseconds, so they can be unit tested
without timing anything.
"""

import math


def percentile(samples, pct):
    """Linear-interpolated percentile (numpy's default method) of samples.

    ``pct`` is in [0, 100]. Returns None for an empty list.
    """
    if not samples:
        return None
    if not 0 <= pct <= 100:
        raise ValueError('percentile must be between 0 and 100: %r' % pct)
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[int(rank)])
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def summarize(samples):
    """Return count, min, median, p90, p99, max and mean of samples (ms)."""
    if not samples:
        return {'n': 0, 'min': None, 'p50': None, 'p90': None,
                'p99': None, 'max': None, 'mean': None}
    return {
        'n': len(samples),
        'min': float(min(samples)),
        'p50': percentile(samples, 50),
        'p90': percentile(samples, 90),
        'p99': percentile(samples, 99),
        'max': float(max(samples)),
        'mean': sum(samples) / float(len(samples)),
    }


def ratio(ours, baseline):
    """ours / baseline, or None when either side is missing or zero."""
    if ours is None or baseline is None or baseline <= 0:
        return None
    return ours / baseline


def _fmt(value, spec='%.2f'):
    return '-' if value is None else spec % value


def _fmt_ratio(value):
    return '-' if value is None else '%.2fx' % value


def format_table(results, baseline=None, targets=None):
    """Render results as a fixed-width text table.

    ``results`` and ``baseline`` map a series name to a dict holding the
    ``summarize`` keys plus optional ``count`` (result items seen) and
    ``error`` (why the series stopped). ``targets`` maps a series name to
    its p50 target in ms. With a baseline, ratio columns (ours/baseline)
    are added for p50 and p90.
    """
    targets = targets or {}
    headers = ['shape', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'items',
               'target']
    if baseline is not None:
        headers += ['base p50', 'base p90', 'base p99', 'base items',
                    'p50 ratio', 'p90 ratio']
    headers.append('note')
    rows = []
    names = list(results)
    for name in (baseline or {}):
        if name not in results:
            names.append(name)
    for name in names:
        ours = results.get(name) or summarize([])
        target = targets.get(name)
        note = []
        if ours.get('error'):
            note.append('ours: %s' % ours['error'])
        if target is not None and ours.get('p50') is not None:
            note.append('ok' if ours['p50'] <= target else 'OVER TARGET')
        row = [name, str(ours.get('n', 0)), _fmt(ours.get('p50')),
               _fmt(ours.get('p90')), _fmt(ours.get('p99')),
               _fmt(ours.get('count'), '%d'),
               _fmt(target, '<=%g')]
        if baseline is not None:
            base = baseline.get(name) or summarize([])
            if base.get('error'):
                note.append('base: %s' % base['error'])
            row += [_fmt(base.get('p50')), _fmt(base.get('p90')),
                    _fmt(base.get('p99')), _fmt(base.get('count'), '%d'),
                    _fmt_ratio(ratio(ours.get('p50'), base.get('p50'))),
                    _fmt_ratio(ratio(ours.get('p90'), base.get('p90')))]
        row.append('; '.join(note))
        rows.append(row)
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows))
              if rows else len(headers[i]) for i in range(len(headers))]
    lines = ['  '.join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             '  '.join('-' * w for w in widths)]
    for row in rows:
        lines.append('  '.join(c.ljust(w)
                               for c, w in zip(row, widths)).rstrip())
    return '\n'.join(lines)
