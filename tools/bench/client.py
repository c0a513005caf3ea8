"""Minimal keep-alive HTTP client for the benchmark (stdlib only).

One ``http.client`` connection per thread, reopened transparently when
the server closes it (gunicorn's sync workers close after every
response), so the client adds as little latency of its own as possible.
"""

import http.client
import json
import threading
import time
import urllib.parse


class HTTPError(Exception):
    """An unexpected status from the server."""

    def __init__(self, method, path, status, body):
        self.status = status
        super().__init__('%s %s -> %s: %s' % (method, path, status,
                                              body[:500]))


class Client(object):
    """Talks JSON to one Placement endpoint.

    ``headers`` are sent with every request (e.g. ``x-auth-token`` and
    ``openstack-api-version``).
    """

    def __init__(self, url, headers, timeout=60.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ('http', 'https'):
            raise ValueError('Only http(s) URLs are supported: %s' % url)
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == 'https' else 80)
        self.prefix = parsed.path.rstrip('/')
        self.headers = dict(headers)
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self):
        conn = getattr(self._local, 'conn', None)
        if conn is None:
            cls = (http.client.HTTPSConnection if self.scheme == 'https'
                   else http.client.HTTPConnection)
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _reset(self):
        conn = getattr(self._local, 'conn', None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def raw(self, method, path, body=None, headers=None):
        """Send one request; return (status, body bytes, elapsed ms).

        The elapsed time covers sending the request and reading the whole
        response body. A connection dropped before the request was sent
        (stale keep-alive) is retried once on a fresh connection.
        """
        hdrs = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode('utf-8')
            hdrs['content-type'] = 'application/json'
        if headers:
            hdrs.update(headers)
        url = self.prefix + path
        for attempt in (1, 2):
            conn = self._connection()
            start = time.perf_counter()
            try:
                conn.request(method, url, body=payload, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected,
                    ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                self._reset()
                if attempt == 2:
                    raise
                continue
            except Exception:
                self._reset()
                raise
            elapsed = (time.perf_counter() - start) * 1000.0
            if resp.will_close:
                self._reset()
            return resp.status, data, elapsed

    def call(self, method, path, body=None, expect=(200, 201, 204),
             headers=None):
        """Send a request, check the status, return the decoded JSON body
        (None when empty).
        """
        status, data, _elapsed = self.raw(method, path, body, headers)
        if status not in expect:
            raise HTTPError(method, path, status,
                            data.decode('utf-8', 'replace'))
        return json.loads(data) if data else None

    def close(self):
        self._reset()
