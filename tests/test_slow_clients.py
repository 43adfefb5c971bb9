"""Slow and malformed clients against the production server on loopback, without a proxy: 50
connections that trickle their headers hold no thread, so questions are still answered, and
each trickler gets a 408 in the end; a malformed header never reaches the log."""

import socket
import threading
import time

import pytest
import requests

from conftest import RunningServer

pytestmark = pytest.mark.slow

TRICKLERS = 50


@pytest.fixture(scope="module")
def server(chapter_settings):
    running = RunningServer(chapter_settings)  # 2 workers of 4 threads: 8 threads in all
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


def trickle(port: int, answers: list[bytes], stop: threading.Event) -> None:
    """A request line, then one header every 2 s until the server answers or closes."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET /ask?q=vraag HTTP/1.1\r\nHost: localhost\r\n")
        connection.settimeout(2)
        answer, header = b"", 0
        while not stop.is_set():
            try:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
            except socket.timeout:
                header += 1
                try:
                    connection.sendall(b"X-Trickle-%d: x\r\n" % header)
                except OSError:
                    break
            except OSError:
                break
        answers.append(answer)


def test_fifty_trickling_connections_leave_the_threads_to_questions(server):
    answers: list[bytes] = []
    stop = threading.Event()
    tricklers = [threading.Thread(target=trickle, args=(server.port, answers, stop)) for _ in range(TRICKLERS)]
    for trickler in tricklers:
        trickler.start()
    try:
        time.sleep(5)  # every trickler connected and has sent a few headers
        for _ in range(3):
            # Without a proxy, with gthread's blocking reads, the 8 threads wait on the tricklers
            # and this times out (issue 19: 3 of 3 questions after 8 s).
            answer = requests.post(server.url + "/ask", json={"question": "Hoeveel militairen zijn uitgezonden?"},
                                   timeout=10)
            assert answer.status_code == 200
            time.sleep(1)
        for trickler in tricklers:
            trickler.join(timeout=40)  # the server answers each 20 s after its first byte
    finally:
        stop.set()
        for trickler in tricklers:
            trickler.join()
    assert len(answers) == TRICKLERS
    assert all(answer.startswith(b"HTTP/1.1 408 ") and b'"code":"request_timeout"' in answer for answer in answers)


def test_a_malformed_header_is_refused_without_writing_it_to_the_log(server):
    secret = "geheim-token-7d41c0ffee"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(f"GET /health HTTP/1.1\r\nHost: localhost\r\nAuthorization Bearer {secret}\r\n\r\n".encode())
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ") and secret.encode() not in answer
    deadline = time.monotonic() + 10
    while "Invalid request from" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Invalid request from" in server.output() and "characters, not shown" in server.output()
    assert secret not in server.output()
