"""A bot on pywa (an independent Python WhatsApp client, pinned in .ci/run), unchanged, as a team
runs it behind `wa-media serve --forward`: it validates X-Hub-Signature-256 with the app secret
and dispatches each update to its handlers, which write one JSON line each to the log.

Usage: python pywa_app.py PORT APP_SECRET LOG_PATH
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pywa import WhatsApp, types

PORT, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
wa = WhatsApp(phone_id="106540352242922", token="unused", server=None,
              app_secret=SECRET, verify_token="unused", validate_updates=True)
log = open(LOG, "a", buffering=1)


def write(**fields):
    log.write(json.dumps(fields) + "\n")


@wa.on_message
def on_message(_, m: types.Message):
    u = m.from_user
    write(kind="message", type=str(m.type), id=m.id, media_id=m.media.id if m.media else None,
          wa_id=u.wa_id, user_id=u.bsuid, username=u.username)


@wa.on_message_status
def on_status(_, s: types.MessageStatus):
    u = s.from_user
    write(kind="status", status=str(s.status), id=s.id, wa_id=u.wa_id, user_id=u.bsuid)


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        refused = wa.webhook_update_validator(raw, self.headers.get("X-Hub-Signature-256"))
        if refused:
            write(kind="refused", reason=refused[0])
            self.send_response(refused[1])
            self.end_headers()
            return
        try:
            body, status = wa.webhook_update_handler(raw)
        except Exception as e:  # a crash is what the test looks for
            write(kind="crash", error=repr(e))
            self.send_response(500)
            self.end_headers()
            return
        self.send_response(status)
        self.end_headers()
        self.wfile.write(str(body).encode())

    def log_message(self, *args):
        pass


write(kind="ready")
ThreadingHTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
