"""Connections stay open between requests, as AWS endpoints keep them (keep_alive.py)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest

EC2_FORM = "Action=DescribeImageUsageReports&Version=2016-11-15"
FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261129/us-east-1/ec2/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture
def conn(endpoint: str):
    url = urlparse(endpoint)
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    c.connect()
    yield c
    c.close()


def _exchange(
    c: http.client.HTTPConnection,
    method: str,
    path: str,
    body: str | bytes | None = None,
    headers: dict | None = None,
    chunked: bool = False,
) -> http.client.HTTPResponse:
    c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    r = c.getresponse()
    r.body = r.read()
    return r


def test_one_connection_serves_control_ec2_and_s3_calls(conn):
    sock = conn.sock
    answers = [
        _exchange(conn, "GET", "/_emulator/health"),
        _exchange(conn, "POST", "/_emulator/faults", json.dumps({}), {"Content-Type": "application/json"}),
        _exchange(conn, "POST", "/", EC2_FORM, FORM_HEADERS),
        _exchange(conn, "GET", "/no-such-bucket/key"),
        _exchange(conn, "POST", "/", EC2_FORM, FORM_HEADERS),
    ]
    assert [a.status for a in answers] == [200, 200, 200, 404, 200]
    assert all(a.getheader("Connection") is None for a in answers)
    assert conn.sock is sock  # http.client reconnects silently; the socket object tells


def test_a_body_the_application_ignores_does_not_leak_into_the_next_request(conn):
    sock = conn.sock
    ignored = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3  # looks like requests if it were left unread
    assert _exchange(conn, "GET", "/_emulator/health", ignored, {"Content-Type": "text/plain"}).status == 200
    second = _exchange(conn, "POST", "/", EC2_FORM, FORM_HEADERS)
    assert second.status == 200 and b"<DescribeImageUsageReportsResponse" in second.body
    assert conn.sock is sock


def test_a_chunked_body_or_a_client_close_ends_the_connection(conn):
    r = _exchange(
        conn,
        "POST",
        "/",
        (part.encode() for part in (EC2_FORM[:20], EC2_FORM[20:])),
        {**FORM_HEADERS, "Transfer-Encoding": "chunked"},
        chunked=True,
    )
    assert r.status == 200 and r.getheader("Connection") == "close"
    conn.close()
    conn.connect()
    r = _exchange(conn, "GET", "/_emulator/health", headers={"Connection": "close"})
    assert r.status == 200 and r.getheader("Connection") == "close"


def test_an_error_answered_by_http_server_itself_still_closes_the_connection(conn):
    assert _exchange(conn, "GET", "/_emulator/health").status == 200
    # A header line past http.server's 64 KiB limit: it answers 431 before werkzeug runs.
    conn.sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += conn.sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431") and b"Connection: close" in answer
    try:
        while conn.sock.recv(65536):
            pass  # the rest of the 431 page; an open connection would time out here instead
    except ConnectionResetError:
        pass  # closed with our unread bytes still in its buffer: a reset, also closed
