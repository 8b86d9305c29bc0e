"""A real HTTP server on 127.0.0.1 standing in for an SMS / WhatsApp gateway: it
records every request and answers what the test queued (default: accepted)."""

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GatewayDouble:
    def __init__(self):
        self.requests = []
        self.answers = []  # (status, json body or raw str); consumed one per request
        self._ids = itertools.count(1)
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                double.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "raw": raw, "json": body}
                )
                status, answer = (
                    double.answers.pop(0)
                    if double.answers
                    else (200, {"id": f"gw-{next(double._ids)}", "status": "queued"})
                )
                payload = answer if isinstance(answer, str) else json.dumps(answer)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload.encode())))
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def answer(self, status, body):
        self.answers.append((status, body))
