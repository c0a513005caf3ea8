"""WSGI entry point: ``placement.wsgi.api:application``.

Point gunicorn, uWSGI or mod_wsgi at the module-level ``application``. It
reads ``placement.conf`` from ``$OS_PLACEMENT_CONFIG_DIR`` when that is
set, else from the standard oslo.config search path (which includes
``/etc/placement``).
"""

from placement import deploy

# For wsgi_scripts (``placement-api``) and servers that want a factory.
init_application = deploy.init_application

application = init_application()
