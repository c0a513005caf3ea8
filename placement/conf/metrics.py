from oslo_config import cfg

metrics_group = cfg.OptGroup(
    'metrics', title='Prometheus metrics',
    help='Prometheus metrics of the API, served at GET /metrics. With '
         'several worker processes (gunicorn, uWSGI) set the '
         'PROMETHEUS_MULTIPROC_DIR environment variable to an empty '
         'directory writable by every worker so that one scrape reports '
         'the figures of all of them.')

metrics_opts = [
    cfg.BoolOpt(
        'enabled',
        default=False,
        help='Record request, conflict, retry, allocation candidate and '
             'database metrics and serve them at GET /metrics.'),
    cfg.BoolOpt(
        'allow_unauthenticated',
        default=False,
        help='Serve GET /metrics to anyone, without a token or the '
             '"placement:metrics" policy check. Only for a trusted network '
             '(a scrape address tenants cannot reach).'),
]


def register_opts(conf):
    conf.register_group(metrics_group)
    conf.register_opts(metrics_opts, group=metrics_group)


def list_opts():
    return [(metrics_group, metrics_opts)]
