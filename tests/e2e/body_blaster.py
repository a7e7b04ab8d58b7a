"""A hostile HTTP client, as a separate process (``python body_blaster.py PORT``): until a line
arrives on stdin, it keeps sending 50 MB request bodies to the worker's control API, declared
(``Content-Length``) and chunked in turn, and holds one slow request open (headers and a few
bytes, then nothing). It prints ``started`` once its first body was refused, and at the end one
JSON line: when each upload began and ended, how far it got and how the server answered.

A process of its own so its socket loop shares no interpreter lock with the simulator the
test runs: the test measures the worker, not this client."""

from __future__ import annotations

import sys
import threading
import time

import orjson
from raw_http import Upload, connect, read_response, request_head, send_body

BODY_BYTES = 50 * 1024 * 1024


def one_upload(port: int, *, chunked: bool) -> Upload:
    upload = Upload()
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(BODY_BYTES)}
    with connect(port) as sock:
        sock.sendall(
            request_head(
                "POST", "/api/place-order", {"Content-Type": "application/json", **framing}
            )
        )
        send_body(sock, BODY_BYTES, chunked=chunked, upload=upload)
        try:
            upload.response = read_response(sock)
        except OSError as exc:
            upload.notes.append(f"no response read: {type(exc).__name__}")
    return upload


def slow_request(port: int, stop: threading.Event) -> None:
    """Headers promising 1000 bytes, then 10 of them, then silence until the end."""
    with connect(port) as sock:
        head = {"Content-Type": "application/json", "Content-Length": "1000"}
        sock.sendall(request_head("POST", "/api/place-order", head) + b'{"id": "sl')
        stop.wait()


def main() -> None:
    port = int(sys.argv[1])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    slow = threading.Thread(target=slow_request, args=(port, stop))
    slow.start()
    uploads: list[dict[str, object]] = []
    announced = False
    while not stop.is_set() or len(uploads) < 2:
        chunked = len(uploads) % 2 == 1
        began = time.monotonic()  # CLOCK_MONOTONIC: the same clock as the test's
        upload = one_upload(port, chunked=chunked)
        response = upload.response
        uploads.append(
            {
                "began": began,
                "ended": time.monotonic(),
                "chunked": chunked,
                "sent": upload.sent,
                "error": upload.error,
                "status": response.status if response else None,
                "closed_after": response.closed_after if response else None,
                "notes": upload.notes,
            }
        )
        if not announced:  # one body refused already: the blaster is in its stride
            print("started", flush=True)
            announced = True
    slow.join()
    print(orjson.dumps({"uploads": uploads}).decode(), flush=True)


if __name__ == "__main__":
    main()
