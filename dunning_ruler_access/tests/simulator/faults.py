"""Faults a test holds in its hands, kept apart from ``server.py``: a request held until
the test releases it, and scripted answers (any status, body and headers) for the
requests of a path.

``scripted(sim)`` gives a started :class:`~.server.TrackingSimulator` these faults (its
request handler is wrapped, the simulator itself is unchanged) and returns them::

    faults = scripted(sim)
    arrived, release = faults.hold("PUT")   # the next PUTs wait for release.set()
    faults.answer("GET", "/api/users/501", 200, b"<html>maintenance</html>", content_type="text/html")
    faults.reset()
"""

import re
import threading


class ScriptedFaults:
    def __init__(self, sim):
        self.sim = sim
        self.lock = threading.Lock()
        self.holds = {}  # method: (arrived, release) events
        self.answers = []  # [method, path regex, status, body, headers, count]

    def hold(self, method):
        """Requests of ``method`` wait until ``release`` is set (or 60 s) and are then
        served normally; ``arrived`` is set when the first one arrives."""
        arrived, release = threading.Event(), threading.Event()
        with self.lock:
            self.holds[method] = (arrived, release)
        return arrived, release

    def answer(
        self, method, path, status=200, body=b"", headers=None, count=1, content_type="application/json"
    ):
        """The next ``count`` requests of ``method`` on ``path`` (a regular expression
        matched against the whole path) get this answer instead of the simulator's."""
        if isinstance(body, str):
            body = body.encode()
        headers = {"Content-Type": content_type, **(headers or {})}
        with self.lock:
            self.answers.append([method, re.compile(path), status, body, headers, count])

    def reset(self):
        with self.lock:
            for _arrived, release in self.holds.values():
                release.set()
            self.holds.clear()
            self.answers.clear()

    def intercept(self, handler):
        """True when the request was answered here."""
        path = handler.path.partition("?")[0]
        with self.lock:
            hold = self.holds.get(handler.command)
        if hold:
            arrived, release = hold
            arrived.set()
            release.wait(60)
        with self.lock:
            answer = next(
                (a for a in self.answers if a[0] == handler.command and a[1].fullmatch(path) and a[5] > 0),
                None,
            )
            if answer:
                answer[5] -= 1
        if not answer:
            return False
        _method, _path, status, body, headers, _count = answer
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        with self.sim.lock:
            self.sim.requests.append((handler.command, handler.path, status))
        return True


def scripted(sim):
    """The scripted faults of the started simulator ``sim`` (installed once)."""
    faults = getattr(sim, "scripted_faults", None)
    if faults is not None:
        return faults
    faults = ScriptedFaults(sim)
    base = sim.server.RequestHandlerClass

    class Handler(base):
        def _handle(self):
            if faults.intercept(self):
                return None
            return base._handle(self)

        do_GET = do_PUT = do_POST = do_DELETE = _handle

    sim.server.RequestHandlerClass = Handler
    sim.scripted_faults = faults
    return faults
