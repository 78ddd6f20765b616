"""A dump mirror on 127.0.0.1: serves files with Range support and can misbehave."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class MirrorState:
    files: dict[str, bytes] = field(default_factory=dict)
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes before a drop
    drops_left: int = 0
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # path -> body bytes sent
    down_after: int | None = None  # answer 503 once this many requests were served
    garble: int = 0  # this many next 206 answers carry the right length of wrong bytes
    size_unknown: bool = False  # Content-Range ends in "/*" (RFC 7233: size unknown)
    report_size: dict[str, int] = field(default_factory=dict)  # path -> size claimed
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location (302)
    trickle: float = 0.0  # seconds between single bytes of a body (a slow mirror)


def make_handler(state: MirrorState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            body = state.files.get(self.path)
            if self.path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.down_after is not None and len(state.requests) > state.down_after:
                self.send_error(503)
                return
            if body is None:
                self.send_error(404)
                return
            start, end = 0, len(body)
            if rng and not state.ignore_range:
                first, _, last = rng.removeprefix("bytes=").partition("-")
                start = int(first)
                end = min(len(body), int(last) + 1) if last else len(body)
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                total = state.report_size.get(self.path, len(body))
                total = "*" if state.size_unknown else total
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{total}")
            else:
                self.send_response(200)
            payload = body[start:end]
            if rng and not state.ignore_range and state.garble > 0:
                state.garble -= 1
                payload = bytes(len(payload))  # zeros: the length asked for, not the bytes
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            cut = state.drop_after.get(self.path)
            if cut is not None and state.drops_left > 0:
                state.drops_left -= 1
                state.sent[self.path] = state.sent.get(self.path, 0) + len(payload[:cut])
                self.wfile.write(payload[:cut])
                self.wfile.flush()
                self.connection.shutdown(2)  # drop the connection midway
                return
            state.sent[self.path] = state.sent.get(self.path, 0) + len(payload)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gone
                if state.trickle:
                    for i in range(len(payload)):
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                        time.sleep(state.trickle)
                else:
                    self.wfile.write(payload)

    return Handler


class Mirror:
    def __init__(self) -> None:
        self.state = MirrorState()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
