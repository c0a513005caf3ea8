"""Prometheus metrics (opt-in: ``[metrics] enabled``), served at
``GET /metrics``.

One outer WSGI middleware times every request and keeps a per-request
state in a context variable; SQLAlchemy engine events add database time
and pool checkout waits to it, and the allocation and allocation
candidate code report through ``allocation_write`` and
``candidates_searched`` (no-ops outside a measured request).

With ``PROMETHEUS_MULTIPROC_DIR`` set (before the server starts; an
empty directory shared by the workers of one host) prometheus_client's
multiprocess mode is used: every worker writes its figures to files there
and a scrape of any worker aggregates them all. Without it the figures
are those of the process that answers.
"""

import contextvars
import glob
import json
import os
import re
import time

from oslo_log import log as logging
import prometheus_client
from prometheus_client import multiprocess
import sqlalchemy as sa

from placement import errors

LOG = logging.getLogger(__name__)
PATH = '/metrics'
ROUTE_KEY = 'placement.route'
UNROUTED = 'unrouted'
ENVIRON_KEY = 'placement.metrics'

_LATENCY_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
_DB_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10)
_WAIT_BUCKETS = (.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30)
_COUNT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000)

# The measured request running in this thread (None outside one).
_CURRENT = contextvars.ContextVar('placement_metrics', default=None)
# Process-wide: the shared metrics of multiprocess mode, and whether the
# SQLAlchemy listeners and the fork hook are installed.
_SHARED = None
_INSTALLED = False


def multiproc_dir():
    return os.environ.get('PROMETHEUS_MULTIPROC_DIR') or None


class Metrics(object):
    """The metric families of one registry."""

    def __init__(self, registry):
        self.registry = registry
        request = ('route', 'method', 'microversion', 'status')
        self.latency = prometheus_client.Histogram(
            'placement_http_request_duration_seconds',
            'Time to answer a request (_count: the number of requests), by '
            'route template, method, microversion and status.',
            request, buckets=_LATENCY_BUCKETS, registry=registry)
        self.in_progress = prometheus_client.Gauge(
            'placement_http_requests_in_progress',
            'Requests being answered now.',
            registry=registry, multiprocess_mode='livesum')
        self.conflicts = prometheus_client.Counter(
            'placement_http_conflicts',
            '409 responses by route template, method and conflict.kind.',
            ('route', 'method', 'kind'), registry=registry)
        self.db_seconds = prometheus_client.Histogram(
            'placement_db_seconds_per_request',
            'Time spent executing SQL statements per request.',
            ('route', 'method'), buckets=_DB_BUCKETS, registry=registry)
        self.db_statements = prometheus_client.Histogram(
            'placement_db_statements_per_request',
            'SQL statements executed per request.',
            ('route', 'method'), buckets=_COUNT_BUCKETS, registry=registry)
        self.pool_wait = prometheus_client.Histogram(
            'placement_db_pool_checkout_seconds',
            'Time to get a connection from the pool (waits when the pool '
            'is exhausted; includes connecting).',
            buckets=_WAIT_BUCKETS, registry=registry)
        self.pool_waiting = prometheus_client.Gauge(
            'placement_db_pool_checkouts_waiting',
            'Requests waiting for a database connection now.',
            registry=registry, multiprocess_mode='livesum')
        self.alloc_writes = prometheus_client.Counter(
            'placement_allocation_writes',
            'Allocation writes by outcome: committed, rejected (a conflict '
            'or bad request the server cannot retry) or retries_exhausted.',
            ('outcome',), registry=registry)
        self.alloc_retries = prometheus_client.Counter(
            'placement_allocation_write_retries',
            'Server-side retries of allocation writes (provider generation '
            'races, deadlocks), by the outcome of the write.',
            ('outcome',), registry=registry)
        self.candidate_requests = prometheus_client.Counter(
            'placement_allocation_candidates_requests',
            'Allocation candidate searches; limit_cut="true" when '
            '``limit`` stopped the search (or sampled the answer).',
            ('limit_cut',), registry=registry)
        self.candidates_generated = prometheus_client.Histogram(
            'placement_allocation_candidates_generated',
            'Candidates generated per search.',
            buckets=_COUNT_BUCKETS, registry=registry)
        self.candidates_returned = prometheus_client.Histogram(
            'placement_allocation_candidates_returned',
            'Candidates returned per search.',
            buckets=_COUNT_BUCKETS, registry=registry)

    def exposition(self):
        """(body, content type) of a scrape."""
        registry = self.registry
        if registry is None:
            registry = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return (prometheus_client.generate_latest(registry),
                prometheus_client.CONTENT_TYPE_LATEST)


class _Request(object):
    __slots__ = ('metrics', 'db_seconds', 'statements', 'started')

    def __init__(self, metrics):
        self.metrics = metrics
        self.db_seconds = 0.0
        self.statements = 0
        self.started = None


def _conflict_kind(chunks):
    try:
        error = json.loads(b''.join(chunks))['errors'][0]
        return str(error['conflict']['kind'])
    except (ValueError, KeyError, IndexError, TypeError):
        return 'none'


def _version_label(environ):
    version = environ.get(errors.VERSION_ENVIRON_KEY)
    return '%d.%d' % version if version else 'none'


class MetricsMiddleware(object):
    """Measure every request; serve ``/metrics`` itself when it needs no
    authentication (else the routed handler serves it after policy)."""

    def __init__(self, application, metrics, open_endpoint):
        self.application = application
        self.metrics = metrics
        self.open_endpoint = open_endpoint

    def __call__(self, environ, start_response):
        if (self.open_endpoint and environ.get('PATH_INFO') == PATH and
                environ.get('REQUEST_METHOD') == 'GET'):
            body, content_type = self.metrics.exposition()
            start_response('200 OK', [('Content-Type', content_type),
                                      ('Content-Length', str(len(body)))])
            return [body]
        metrics = self.metrics
        environ[ENVIRON_KEY] = metrics
        state = _Request(metrics)
        token = _CURRENT.set(state)
        status = []

        def recording_start_response(code, headers, exc_info=None):
            status.append(code)
            return start_response(code, headers, exc_info)

        metrics.in_progress.inc()
        started = time.perf_counter()
        try:
            chunks = self.application(environ, recording_start_response)
        finally:
            _CURRENT.reset(token)
            metrics.in_progress.dec()
        elapsed = time.perf_counter() - started
        route = environ.get(ROUTE_KEY, UNROUTED)
        method = environ.get('REQUEST_METHOD', '')
        code = status[0].split(None, 1)[0] if status else '0'
        metrics.latency.labels(route, method, _version_label(environ),
                               code).observe(elapsed)
        metrics.db_seconds.labels(route, method).observe(state.db_seconds)
        metrics.db_statements.labels(route, method).observe(state.statements)
        if code == '409':
            body = list(chunks)
            if hasattr(chunks, 'close'):
                chunks.close()
            chunks = body
            metrics.conflicts.labels(route, method,
                                     _conflict_kind(chunks)).inc()
        return chunks


# --- hooks the rest of the code calls (no-ops outside a measured request)

def allocation_write(outcome, retries):
    """An allocation write finished: ``outcome`` committed / rejected /
    retries_exhausted, after ``retries`` server-side retries."""
    state = _CURRENT.get()
    if state is not None:
        state.metrics.alloc_writes.labels(outcome).inc()
        if retries:
            state.metrics.alloc_retries.labels(outcome).inc(retries)


def candidates_searched(result, limit):
    """An allocation candidate search returned ``result``."""
    state = _CURRENT.get()
    if state is None:
        return
    returned = len(result.candidates)
    generated = max(getattr(result, 'generated', returned), returned)
    cut = bool(limit) and generated >= limit
    metrics = state.metrics
    metrics.candidate_requests.labels('true' if cut else 'false').inc()
    metrics.candidates_generated.observe(generated)
    metrics.candidates_returned.observe(returned)


# --- SQLAlchemy: statement time and pool checkouts, for every engine

def _before_execute(conn, cursor, statement, parameters, context, many):
    state = _CURRENT.get()
    if state is not None:
        state.started = time.perf_counter()


def _after_execute(conn, cursor, statement, parameters, context, many):
    state = _CURRENT.get()
    if state is not None and state.started is not None:
        state.db_seconds += time.perf_counter() - state.started
        state.statements += 1
        state.started = None


def _failed_execute(exception_context):
    _after_execute(None, None, None, None, None, None)


def _timed_checkout(do_get):
    def _do_get():
        state = _CURRENT.get()
        if state is None:
            return do_get()
        metrics = state.metrics
        metrics.pool_waiting.inc()
        started = time.perf_counter()
        try:
            return do_get()
        finally:
            metrics.pool_waiting.dec()
            metrics.pool_wait.observe(time.perf_counter() - started)
    _do_get.placement_timed = True
    return _do_get


def _on_connect(conn):
    """Time the checkouts of each engine's pool (from its second one:
    SQLAlchemy has no event before a checkout)."""
    pool = conn.engine.pool
    do_get = getattr(pool, '_do_get', None)
    if do_get is not None and not getattr(do_get, 'placement_timed', False):
        pool._do_get = _timed_checkout(do_get)


# --- multiprocess mode: dead workers

_LIVE_FILE = re.compile(r'^gauge_live\w+?_(\d+)\.db$')


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(path=None):
    """Drop the live gauges (in-progress requests, pool waits) of worker
    processes that no longer run; their counters and histograms stay, so
    totals never go down when a worker dies."""
    path = path or multiproc_dir()
    if not path:
        return
    dead = set()
    for name in os.listdir(path):
        match = _LIVE_FILE.match(name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)


def mark_worker_dead(pid):
    """For a server hook that learns a worker exited (gunicorn
    ``child_exit``)."""
    path = multiproc_dir()
    if path:
        multiprocess.mark_process_dead(pid, path)


def clear_multiproc_dir():
    """Empty the directory when the server (not a worker) starts: the
    figures of a previous run must not be added to this one."""
    path = multiproc_dir()
    if path and os.path.isdir(path):
        for name in glob.glob(os.path.join(path, '*.db')):
            os.remove(name)


def _install():
    global _INSTALLED
    if _INSTALLED:
        return
    sa.event.listen(sa.engine.Engine, 'before_cursor_execute',
                    _before_execute)
    sa.event.listen(sa.engine.Engine, 'after_cursor_execute',
                    _after_execute)
    sa.event.listen(sa.engine.Engine, 'handle_error', _failed_execute)
    sa.event.listen(sa.engine.Engine, 'engine_connect', _on_connect)
    if multiproc_dir():
        # Workers forked from a master that loaded the application
        # (uWSGI without lazy-apps, gunicorn --preload).
        os.register_at_fork(after_in_child=forget_dead_workers)
    _INSTALLED = True


def _metrics():
    """Shared per process in multiprocess mode (the files are keyed by
    metric name); else one registry per application."""
    global _SHARED
    path = multiproc_dir()
    if not path:
        return Metrics(prometheus_client.CollectorRegistry())
    if _SHARED is None:
        os.makedirs(path, exist_ok=True)
        forget_dead_workers(path)
        _SHARED = Metrics(None)
    return _SHARED


def wrap(application, conf):
    """``application`` measured, when ``[metrics] enabled``."""
    if not conf.metrics.enabled:
        return application
    _install()
    return MetricsMiddleware(application, _metrics(),
                             conf.metrics.allow_unauthenticated)


def routes(conf):
    """The extra route of the API when metrics are enabled."""
    if conf is not None and conf.metrics.enabled:
        return {PATH: {'GET': 'metrics.get_metrics'}}
    return {}
