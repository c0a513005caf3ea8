"""gunicorn server hooks for Prometheus multiprocess mode:
``gunicorn -c python:placement.wsgi.gunicorn_conf ...``.

The master empties ``PROMETHEUS_MULTIPROC_DIR`` when it starts (figures
of a previous run are not added to this one) and drops the live gauges of
a worker that exits (its counters stay in the totals).
"""

from placement import metrics


def on_starting(server):
    metrics.clear_multiproc_dir()


def child_exit(server, worker):
    metrics.mark_worker_dead(worker.pid)
