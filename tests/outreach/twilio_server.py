"""A local stand-in for Twilio's Messages and Lookup APIs, for the real `twilio` SDK to talk to.

It speaks POST /2010-04-01/Accounts/{AccountSid}/Messages.json (form-encoded To, From or
MessagingServiceSid, Body, StatusCallback) with Basic auth, answers with Twilio-shaped JSON,
and can be told how to answer the next requests: 429, 500, a 400 with a Twilio error code,
a reply slower than the client's read timeout (the message *was* accepted), or a dropped
connection.

It also speaks Lookup v2, GET /v2/PhoneNumbers/{number}?Fields=line_type_intelligence, answering
the line type set for the number in `line_types` ("mobile" for any other), and following the
same plan (e.g. ("http", 503) for an outage).
"""

import base64
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from survey.outreach.segments import count_segments

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"  # noqa: S105 (a test server's)
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
LOOKUP_PATH = re.compile(r"^/v2/PhoneNumbers/([^/]+)$")


@dataclass
class Received:
    """A message the server accepted (whatever it answered afterwards)."""

    sid: str
    to: str
    body: str
    sender: str
    status_callback: str | None
    validity_period: int | None = None
    content_sid: str | None = None
    content_variables: str | None = None


@dataclass
class FakeTwilio:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    requests: int = 0
    plan: deque = field(default_factory=deque)  # behaviours for the next requests, in order
    delay: float = 0.0  # added to every answer, to widen race windows
    lock: threading.Lock = field(default_factory=threading.Lock)
    line_types: dict[str, str] = field(default_factory=dict)  # Lookup's answer per number
    lookups: list[str] = field(default_factory=list)  # numbers looked up, in order

    def answer_next(self, *behaviours) -> None:
        """e.g. answer_next(("http", 429), ("http", 500), ("error", 21211), ("slow", 2)),
        or ("hold", event): accept only when `event` is set."""
        self.plan.extend(behaviours)

    def bodies_to(self, number: str) -> list[str]:
        return [message.body for message in self.received if message.to == number]


def _handler(server_state: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm the body then waits
        # for the client's delayed ACK (~40 ms), capping each connection at ~25 answers/s.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            return self.headers.get("Authorization") == f"Basic {expected}"

        def do_GET(self):  # noqa: N802
            url = urlsplit(self.path)
            match = LOOKUP_PATH.match(url.path)
            if not match:
                return self._reply(404, {"code": 20404, "message": "Not found", "status": 404})
            if not self._authorised():
                return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
            number = unquote(match.group(1))
            fields = parse_qs(url.query).get("Fields", [""])[0].split(",")
            with server_state.lock:
                server_state.requests += 1
                server_state.lookups.append(number)
                behaviour = server_state.plan.popleft() if server_state.plan else ("ok",)
            if behaviour[0] == "http":
                status = behaviour[1]
                return self._reply(
                    status, {"code": 20000 + status, "status": status, "message": "Unavailable"}
                )
            line = None
            if "line_type_intelligence" in fields:
                line = {
                    "type": server_state.line_types.get(number, "mobile"),
                    "carrier_name": "Stand-in Carrier",
                    "mobile_country_code": None,
                    "mobile_network_code": None,
                    "error_code": None,
                }
            return self._reply(
                200,
                {
                    "calling_country_code": "1",
                    "country_code": "US",
                    "phone_number": number,
                    "national_format": number,
                    "valid": True,
                    "validation_errors": [],
                    "line_type_intelligence": line,
                    "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{number}",
                },
            )

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            match = MESSAGES_PATH.match(self.path)
            if not match:
                return self._reply(404, {"code": 20404, "message": "Not found", "status": 404})
            if not self._authorised():
                return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
            with server_state.lock:
                server_state.requests += 1
                behaviour = server_state.plan.popleft() if server_state.plan else ("ok",)
            if server_state.delay:
                time.sleep(server_state.delay)
            kind = behaviour[0]
            if kind == "hold":
                # Answer only once the test lets go (a threading.Event), however long the
                # client waits: a request certainly in flight, whatever the machine's load.
                behaviour[1].wait(timeout=60)
            if kind == "http":
                status = behaviour[1]
                return self._reply(
                    status,
                    {
                        "code": 20000 + status,
                        "status": status,
                        "message": "Try again later",
                        "more_info": "https://www.twilio.com/docs/errors",
                    },
                )
            if kind == "error":
                return self._reply(
                    400,
                    {
                        "code": behaviour[1],
                        "status": 400,
                        "message": "The request was refused",
                        "more_info": f"https://www.twilio.com/docs/errors/{behaviour[1]}",
                    },
                )
            message = self._accept(form, match.group(1))
            if kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            if kind == "slow":
                time.sleep(behaviour[1])
            return self._reply(201, self._resource(message, form, match.group(1)))

        def _accept(self, form, account) -> Received:
            message = Received(
                sid="SM" + secrets.token_hex(16),
                to=form.get("To", ""),
                body=form.get("Body", ""),
                sender=form.get("MessagingServiceSid") or form.get("From", ""),
                status_callback=form.get("StatusCallback"),
                validity_period=int(form["ValidityPeriod"]) if "ValidityPeriod" in form else None,
                content_sid=form.get("ContentSid"),
                content_variables=form.get("ContentVariables"),
            )
            with server_state.lock:
                server_state.received.append(message)
            return message

        def _resource(self, message: Received, form, account) -> dict:
            return {
                "sid": message.sid,
                "account_sid": account,
                "to": message.to,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": message.body,
                "status": "queued" if form.get("From") else "accepted",
                "num_segments": str(count_segments(message.body).segments),
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{message.sid}.json",
            }

    return Handler


def start() -> tuple[FakeTwilio, ThreadingHTTPServer]:
    state = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return state, server
