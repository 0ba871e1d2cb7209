"""A pretend LMS outcome service for otrbot's grade tests.

Usage: lti_lms.py PORT KEY SECRET LOGFILE
The outcome service of scripts/try's pretend LMS (scripts/lib/dev_lms.py, OutcomeService),
taking any lis_result_sourcedid: each POST's OAuth 1.0a HMAC-SHA1 signature checked with
oauthlib's server-side verification and its oauth_body_hash with hashlib, the imsx POX XML
read with ElementTree (namespaced, texts unescaped), answered like an LMS (imsx_codeMajor
success, or failure with 401 for a request that does not authenticate). Prints its port.
Every request is appended to LOGFILE as one JSON line:
{"ok": bool, "why": str, "description": str, "sourcedid": str, "score": str}
("why" is "ok", "bad signature", "bad body hash", "wrong consumer key", ...).
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "lib"))
from dev_lms import OutcomeService, read_post, reply, request_uri  # noqa: E402

PORT, KEY, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
SERVICE = OutcomeService(KEY, SECRET)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = read_post(self)
        if body is None:
            return
        a = SERVICE.handle(request_uri(self), self.headers, body)
        with open(LOG, "a") as f:
            f.write(json.dumps({"ok": a.ok, "why": a.code, "description": a.description,
                                "sourcedid": a.sourcedid, "score": a.score}) + "\n")
        reply(self, a.status, "application/xml", a.body)


srv = HTTPServer(("127.0.0.1", PORT), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
