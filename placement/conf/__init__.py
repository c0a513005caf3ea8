"""All of placement's configuration options, registered on a ConfigOpts
instance that the caller owns (there is no global CONF)."""

from oslo_config import cfg
from oslo_log import log as logging
from oslo_middleware import cors
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import opts as middleware_opts
from oslo_policy import opts as policy_opts

from placement.conf import api
from placement.conf import base
from placement.conf import database
from placement.conf import metrics
from placement.conf import placement as placement_opts


_MODULES = (api, base, database, metrics, placement_opts)


def register_opts(conf):
    """Register every placement option group on ``conf``."""
    for module in _MODULES:
        module.register_opts(conf)
    logging.register_options(conf)
    conf.register_opts(cors.CORS_OPTS, 'cors')
    conf.register_opts(http_proxy_to_wsgi.OPTS, 'oslo_middleware')
    for group, opts in middleware_opts.list_opts_healthcheck():
        conf.register_opts(opts, group=group)
    for group, opts in policy_opts.list_opts():
        conf.register_opts(opts, group=group)
    set_lib_defaults()


def list_opts():
    """Entry point for oslo-config-generator."""
    opts = []
    for module in _MODULES:
        opts.extend(module.list_opts())
    return opts


def set_lib_defaults():
    """Placement's defaults for library-owned options (CORS, the
    healthcheck's database backend)."""
    for _group, opts in middleware_opts.list_opts_healthcheck():
        cfg.set_defaults(opts, backends=['placement_database'])
    cors.set_defaults(
        allow_headers=['X-Auth-Token', 'X-Openstack-Request-Id',
                       'X-Identity-Status', 'X-Roles', 'X-Service-Catalog',
                       'X-User-Id', 'X-Tenant-Id', 'OpenStack-API-Version'],
        expose_headers=['X-Auth-Token', 'X-Openstack-Request-Id',
                        'X-Subject-Token', 'X-Service-Token',
                        'OpenStack-API-Version'],
        allow_methods=['GET', 'PUT', 'POST', 'DELETE', 'PATCH'])
