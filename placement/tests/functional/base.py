"""A test case with an in-process application on a fresh database, for
tests that call the WSGI app directly (threads, subprocesses, checks gabbi
cannot express)."""

import threading

from prometheus_client import parser
import webob

from placement import deploy
from placement.tests import fixtures


class APITestCase(fixtures.DBTestCase):

    enforce_new_defaults = False

    def setUp(self):
        super().setUp()
        self.conf.set_override('enforce_new_defaults',
                               self.enforce_new_defaults,
                               group='oslo_policy')
        self.app = deploy.loadapp(self.conf)

    def request(self, method, path, body=None, version='latest',
                token='admin', headers=None):
        return app_request(self.app, method, path, body, version, token,
                           headers)


def app_request(app, method, path, body=None, version='latest',
                token='admin', headers=None):
    """Call ``app`` in-process; returns the webob Response."""
    all_headers = {'accept': 'application/json',
                   'openstack-api-version': 'placement %s' % version}
    if token:
        all_headers['x-auth-token'] = token
    all_headers.update(headers or {})
    req = webob.Request.blank(path, method=method, headers=all_headers)
    if body is not None:
        req.json_body = body
        req.content_type = 'application/json'
    return req.get_response(app)


class AppClient(object):
    """Mixin for DB-level test classes (see fixtures.for_each_backend)
    that drive the WSGI app as admin: ``call`` returns (status, data);
    ``race`` runs callables at once (run_concurrently)."""

    def setUp(self):
        super().setUp()
        self.app = deploy.loadapp(self.conf)

    def call(self, method, path, body=None, version='latest', headers=None):
        resp = app_request(self.app, method, path, body, version,
                           headers=headers)
        return resp.status_int, resp.json_body if resp.body else None

    def race(self, funcs):
        return run_concurrently(funcs)

    def race_requests(self, method, path, bodies):
        """Send one request per body at once; [(status, data)]."""
        return self.race([
            (lambda body=body: self.call(method, path, body))
            for body in bodies])


def metric_samples(text):
    """{(sample name, sorted label pairs): value} of a /metrics body."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(text)
            for s in family.samples}


def run_concurrently(funcs, timeout=120):
    """Call every callable of ``funcs`` from its own real thread, all
    released together by a barrier (so they really race in the app and
    the database), and return their results in order. The first
    exception a callable raised is re-raised here; a thread still running
    after ``timeout`` seconds is an AssertionError (never a silent None)."""
    barrier = threading.Barrier(len(funcs))
    results = [None] * len(funcs)
    errors = [None] * len(funcs)

    def run(index, func):
        barrier.wait()
        try:
            results[index] = func()
        except BaseException as exc:  # re-raised in the calling thread
            errors[index] = exc

    threads = [threading.Thread(target=run, args=(i, f), daemon=True)
               for i, f in enumerate(funcs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError('a racing call outlived %ss' % timeout)
    for error in errors:
        if error is not None:
            raise error
    return results
