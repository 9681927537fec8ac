"""The emulator's keep-alive request handler (http_server.py) on a small WSGI app of its own,
and on the emulator itself: a connection serves request after request, whatever the app did
with the body, and ends when the client or the server says so."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest
from werkzeug.serving import make_server

from harness.emulator import http_server


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("the app failed")
    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/stream":  # no Content-Length: the handler counts the chunks
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one ", b"two"])
    start_response("200 OK", [("Content-Type", "text/plain")])  # never reads the body
    return [b"ignored your body"]


@pytest.fixture
def server():
    served = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=http_server.request_handler()
    )
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()
    http_server.close_connections(served)


def connect(server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)


def ask(connection, method: str, path: str, body: bytes | None = None, **headers):
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response, response.read()


def test_one_connection_serves_many_requests(server):
    connection = connect(server)
    ask(connection, "GET", "/echo")
    first_socket = connection.sock
    for i in range(5):
        response, body = ask(connection, "POST", "/echo", f"body {i}".encode())
        assert (response.status, body, response.will_close) == (200, f"body {i}".encode(), False)
    assert connection.sock is first_socket  # never reconnected


def test_a_body_the_app_leaves_unread_does_not_spill_into_the_next_request(server):
    connection = connect(server)
    response, _ = ask(connection, "POST", "/ignores", b"GET /echo HTTP/1.1\r\n\r\n" * 50)
    assert response.status == 200 and not response.will_close
    response, body = ask(connection, "POST", "/echo", b"next")
    assert (response.status, body) == (200, b"next")


def test_an_answer_without_length_is_counted_and_the_connection_kept(server):
    connection = connect(server)
    response, body = ask(connection, "GET", "/stream")
    assert (body, response.getheader("Content-Length"), response.will_close) == (
        b"one two",
        "7",
        False,
    )
    assert ask(connection, "HEAD", "/stream")[1] == b""
    assert ask(connection, "POST", "/echo", b"after")[1] == b"after"


def test_an_app_error_is_a_500_and_the_connection_still_serves(server):
    connection = connect(server)
    response, body = ask(connection, "GET", "/boom")
    assert (response.status, body) == (500, b"Internal Server Error")
    assert ask(connection, "POST", "/echo", b"still here")[1] == b"still here"


def test_the_client_closing_is_honoured(server):
    connection = connect(server)
    response, _ = ask(connection, "GET", "/echo", Connection="close")
    assert response.will_close and response.getheader("Connection") == "close"


def test_a_stopped_server_ends_its_kept_connections():
    served = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=http_server.request_handler()
    )
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    raw = socket.create_connection(served.server_address, timeout=10)
    raw.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    served.shutdown()
    served.server_close()
    http_server.close_connections(served)
    assert raw.recv(4096) == b""  # closed by the server: no answer from a stopped emulator
    raw.close()


def test_the_emulator_keeps_boto3_connections(aws, client, speedups):
    if not speedups:
        pytest.skip("keep-alive is a speed-up: moto's own handler closes every connection")
    s3 = client("s3")
    s3.create_bucket(Bucket="keepalive")
    opened = []
    original = socket.socket.connect

    def counting_connect(self, address):
        opened.append(address)
        return original(self, address)

    s3.list_buckets()  # one connection in the pool
    socket.socket.connect = counting_connect
    try:
        for i in range(10):
            s3.put_object(Bucket="keepalive", Key=f"k{i}", Body=b"x" * 100)
            assert s3.get_object(Bucket="keepalive", Key=f"k{i}")["Body"].read() == b"x" * 100
        made_here = len(opened)
        socket.create_connection(("127.0.0.1", int(aws.url.rsplit(":", 1)[1]))).close()
    finally:
        socket.socket.connect = original
    assert made_here == 0  # werkzeug's own server made 20 connections here
    assert len(opened) == 1  # the count does see a new connection


def test_the_warm_heap_is_out_of_the_collectors_sight(aws, speedups):
    """heap.py: the imported and warmed objects are frozen once the engine is warm."""
    import gc

    aws.wait_stepfunctions()
    if speedups:
        assert gc.get_freeze_count() > 100_000  # botocore's models, moto, the ASL parser
    else:
        assert gc.get_freeze_count() == 0


def test_an_idle_connection_ends_quietly_after_its_timeout(monkeypatch, capfd, caplog):
    handler = http_server.request_handler()
    monkeypatch.setattr(handler, "timeout", 0.3)
    served = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        raw = socket.create_connection(served.server_address, timeout=10)
        raw.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        assert raw.recv(4096) == b""  # closed by the server once idle for its timeout
        raw.close()
    finally:
        served.shutdown()
        served.server_close()
    logged = capfd.readouterr().err + "".join(r.getMessage() for r in caplog.records)
    assert "timed out" not in logged


def test_a_connection_ends_after_its_hundredth_request(server):
    connection = connect(server)
    answers = [ask(connection, "POST", "/echo", b"x")[0] for _ in range(http_server.MAX_REQUESTS)]
    assert [a.will_close for a in answers] == [False] * (http_server.MAX_REQUESTS - 1) + [True]
    assert answers[-1].getheader("Connection") == "close"
    response, body = ask(connection, "POST", "/echo", b"again")  # http.client reconnects
    assert (response.status, body) == (200, b"again")
