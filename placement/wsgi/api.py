"""WSGI entry point: ``placement.wsgi.api:application``.

Point gunicorn, uWSGI or mod_wsgi at the module-level ``application``. It
reads ``placement.conf`` from ``$OS_PLACEMENT_CONFIG_DIR`` when that is
set, else from the standard oslo.config search path (which includes
``/etc/placement``).
"""

import os

from oslo_config import cfg
from oslo_log import log as logging

from placement import conf as placement_conf
from placement import deploy

CONFIG_FILE = 'placement.conf'
LOG = logging.getLogger(__name__)


def _config_files():
    config_dir = os.environ.get('OS_PLACEMENT_CONFIG_DIR', '').strip()
    if config_dir:
        return [os.path.join(config_dir, CONFIG_FILE)]
    return cfg.find_config_files(project='placement')


def _parse_config(argv=None):
    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf(argv or [], project='placement',
         default_config_files=_config_files())
    return conf


def init_application():
    """Build the application once per process: config, logging, database
    (optionally migrated), standard classes and traits, middleware."""
    conf = _parse_config()
    logging.setup(conf, 'placement')
    if conf.log_options:
        conf.log_opt_values(logging.getLogger(__name__), logging.DEBUG)
    deploy.init_database(conf)
    return deploy.loadapp(conf)


application = init_application()
