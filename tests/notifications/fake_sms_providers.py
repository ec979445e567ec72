"""Stand-ins for GOV.UK Notify, Twilio and Mailgun: real HTTP servers on 127.0.0.1, in a thread, that the real
client libraries talk to (NOTIFY_BASE_URL, TWILIO_BASE_URL, anymail's MAILGUN_API_URL). Each answers as its
provider does, with the provider's id for what it took (Notify's notification id, Twilio's SID, Mailgun's message
id), and the test decides how: `reply` is called with the request number and the parsed request and returns
(status, json body, delay). The delivery receipts that follow are posted by the test (tests/notifications/
test_delivery_receipts.py), as the provider would, to the registry's own endpoints."""

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

Reply = Callable[[int, dict], tuple[int, dict, float]]


@dataclass
class Received:
    to: str
    body: str
    reference: str
    status: int
    # What the provider answered (its id for the message is in it) and every field it was sent.
    answer: dict = field(default_factory=dict)
    request: dict = field(default_factory=dict)

    @property
    def provider_id(self) -> str:
        return str(self.answer.get("id") or self.answer.get("sid") or "")


@dataclass
class FakeProvider:
    kind: str  # "notify", "twilio" or "mailgun"
    url: str = ""
    received: list[Received] = field(default_factory=list)
    reply: Reply | None = None

    def ok(self) -> list[Received]:
        return [r for r in self.received if r.status < 300]


def notify_success(request: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "reference": request.get("reference"),
        "content": {"body": request["personalisation"]["body"], "from_number": "GOVUK"},
        "uri": "https://api.notifications.service.gov.uk/v2/notifications/x",
        "template": {"id": request["template_id"], "version": 1, "uri": "x"},
    }


def notify_error(status: int, error: str, message: str) -> dict:
    return {"errors": [{"error": error, "message": message}], "status_code": status}


def twilio_success(request: dict) -> dict:
    return {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": request["To"], "body": request["Body"]}


def twilio_error(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def mailgun_success(request: dict) -> dict:
    return {"id": f"<{uuid.uuid4().hex}@mg.example.org>", "message": "Queued. Thank you."}


def _handler(provider: FakeProvider, lock: threading.Lock):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(errors="replace")
            if provider.kind == "mailgun":
                # anymail posts multipart form data to /v3/<domain>/messages; the test needs only the answer.
                assert self.path.endswith("/messages"), self.path
                request = {"raw": raw}
                to, body, reference = "", raw, ""
            elif provider.kind == "notify":
                assert self.path == "/v2/notifications/sms", self.path
                assert self.headers["Authorization"].startswith("Bearer ")
                request = json.loads(raw)
                to, body, reference = request["phone_number"], request["personalisation"]["body"], request["reference"]
            else:
                assert self.path.endswith("/Messages.json"), self.path
                assert self.headers["Authorization"].startswith("Basic ")
                request = {k: v[0] for k, v in parse_qs(raw).items()}
                to, body, reference = request["To"], request["Body"], ""
            with lock:
                number = len(provider.received) + 1
                success = {"notify": notify_success, "twilio": twilio_success, "mailgun": mailgun_success}[
                    provider.kind
                ]
                default = (200 if provider.kind == "mailgun" else 201, success(request), 0.0)
                status, payload, delay = provider.reply(number, request) if provider.reply else default
                provider.received.append(
                    Received(to=to, body=body, reference=reference, status=status, answer=payload, request=request)
                )
            if delay:
                time.sleep(delay)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out and went away
                pass

        def log_message(self, *args):  # keep the test output quiet
            pass

    return Handler


class running:
    def __init__(self, kind: str):
        self.provider = FakeProvider(kind=kind)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.provider, threading.Lock()))
        self.server.daemon_threads = True
        self.provider.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeProvider:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.provider

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
