"""Run placement on http://127.0.0.1:8778 with an embedded SQLite database
(for trying it out; see README). The schema is created on start.

Extra arguments are passed to gunicorn. The database and config live in
``$PLACEMENT_SERVE_DIR`` (default ``.placement-serve`` in the current
directory) and survive restarts.
"""

import os
import sys

CONF_TEMPLATE = """[DEFAULT]
debug = False

[api]
auth_strategy = noauth2

[placement_database]
connection = sqlite:///%(db)s
sync_on_startup = True
"""


def main():
    state_dir = os.path.abspath(
        os.environ.get('PLACEMENT_SERVE_DIR', '.placement-serve'))
    os.makedirs(state_dir, exist_ok=True)
    conf_path = os.path.join(state_dir, 'placement.conf')
    if not os.path.exists(conf_path):
        with open(conf_path, 'w') as conf_file:
            conf_file.write(CONF_TEMPLATE % {
                'db': os.path.join(state_dir, 'placement.sqlite')})
    os.environ['OS_PLACEMENT_CONFIG_DIR'] = state_dir
    bind = os.environ.get('PLACEMENT_SERVE_BIND', '127.0.0.1:8778')
    workers = os.environ.get('PLACEMENT_SERVE_WORKERS', '2')
    args = (['gunicorn', '--bind', bind, '--workers', workers] +
            sys.argv[1:] + ['placement.wsgi.api:application'])
    print('placement: config %s, serving on http://%s' % (conf_path, bind),
          flush=True)
    os.execvp('gunicorn', args)


if __name__ == '__main__':
    main()
