"""HTTP/1.1 keep-alive for werkzeug's server, as AWS endpoints keep connections open.

werkzeug's development server answers every request with ``Connection: close``: after
the application returns it drains whatever of the request body is still unread, and on
a kept-alive connection that drain could swallow the next request line. This handler
reads each request's body (``Content-Length`` bytes) before the application runs and
hands the application a copy, so the socket always stands at a request boundary and the
connection can stay open. Clients then pay for a TCP connection once, not per call, as
they do against AWS, which matters to the benchmarks of client CPU.

A request with a chunked body (no length to read up front), a malformed length,
``Connection: close`` from the client, or an error http.server answers by itself (a
malformed request line or header) still closes the connection after its answer.
"""

from __future__ import annotations

import io
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

#: Seconds an idle kept-alive connection (and its server thread) lives; longer than the
#: AWS SDKs' own idle-connection timeouts, so a pooled connection is closed by its client.
IDLE_TIMEOUT_SECONDS = 120


class KeepAliveRequestHandler(MotoRequestHandler):
    timeout = IDLE_TIMEOUT_SECONDS
    # Headers and body leave in separate writes; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (~40 ms per call) once the connection no longer closes.
    disable_nagle_algorithm = True
    _body_length: int | None = None  # None: this request's connection closes after the answer

    def run_wsgi(self) -> None:
        socket_rfile = self.rfile
        self._body_length = _content_length(self.headers)
        try:
            super().run_wsgi()
        finally:
            self.rfile = socket_rfile
            if self._body_length is None:
                self.close_connection = True
            self._body_length = None  # http.server's own error answers between requests close

    def make_environ(self) -> dict[str, Any]:
        # run_wsgi has answered "Expect: 100-continue" by now, so the body is on its way.
        if self._body_length is not None:
            self.rfile = io.BytesIO(self.rfile.read(self._body_length))
        return super().make_environ()

    def send_header(self, keyword: str, value: str) -> None:
        closing = self._body_length is None or self.close_connection  # the latter: the client said close
        if not closing and keyword.lower() == "connection" and value.lower() == "close":
            return  # werkzeug's unconditional close
        super().send_header(keyword, value)


def _content_length(headers: Any) -> int | None:
    """The body length to read up front, or None when the body cannot be delimited so."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return None
    try:
        length = int(headers.get("Content-Length") or 0)
    except ValueError:
        return None
    return length if length >= 0 else None
