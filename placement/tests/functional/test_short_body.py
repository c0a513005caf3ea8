"""A body shorter than its Content-Length from a client that then
half-closes its socket: a real HTTP server is needed (an in-process
request cannot end early), so this drives one over loopback."""

import json
import socket
import threading
from wsgiref import simple_server

from placement.tests.functional import base


class _QuietHandler(simple_server.WSGIRequestHandler):

    def log_message(self, *args):
        pass


class TestShortBody(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.server = simple_server.make_server(
            '127.0.0.1', 0, self.app, handler_class=_QuietHandler)
        thread = threading.Thread(target=self.server.handle_request)
        thread.daemon = True
        thread.start()
        self.addCleanup(thread.join, 30)
        self.addCleanup(self.server.server_close)

    def _send_half(self, request, timeout=30):
        sock = socket.create_connection(self.server.server_address,
                                        timeout=timeout)
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            sock.close()
        head, _sep, body = b''.join(chunks).partition(b'\r\n\r\n')
        return head.decode('latin-1'), body

    def test_short_body_is_400(self):
        body = b'{"name": "short"}'
        head, resp_body = self._send_half(
            b'POST /resource_providers HTTP/1.1\r\n'
            b'Host: 127.0.0.1\r\n'
            b'X-Auth-Token: admin\r\n'
            b'OpenStack-API-Version: placement latest\r\n'
            b'Accept: application/json\r\n'
            b'Content-Type: application/json\r\n'
            b'Content-Length: 100\r\n'
            b'Connection: close\r\n\r\n' + body)
        self.assertIn(' 400 ', head.split('\r\n')[0])
        error = json.loads(resp_body)['errors'][0]
        self.assertIn('request body shorter than its content-length header',
                      error['detail'])
        self.assertTrue(error['request_id'].startswith('req-'))
        self.assertEqual('placement.undefined_code', error['code'])
        # Nothing was created.
        resp = self.request('GET', '/resource_providers')
        self.assertEqual([], resp.json['resource_providers'])
