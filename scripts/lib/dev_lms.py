"""A pretend LMS for scripts/try: each GET returns a freshly signed LTI 1.1 launch that
submits itself to otrbot (signed with oauthlib, not otrbot's own code).

    python3 scripts/lib/dev_lms.py PORT TOOL_LAUNCH_URL CONSUMER_KEY CONSUMER_SECRET

  /             a learner's launch          /instructor   an instructor's launch
"""
import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_BODY, Client

PORT, LAUNCH, KEY, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def signed_form(instructor):
    params = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "resource_link_id": "otrbot-try",
        "resource_link_title": "Private chat with OTR",
        "context_id": "try-course",
        "context_title": "Trying otrbot",
        "user_id": "teacher-1" if instructor else "learner-1",
        "roles": "Instructor" if instructor else "Learner",
        "launch_presentation_locale": "en-GB",
        "launch_presentation_return_url": f"http://127.0.0.1:{PORT}/",
    }
    c = Client(KEY, client_secret=SECRET, signature_method=SIGNATURE_HMAC_SHA1,
               signature_type=SIGNATURE_TYPE_BODY)
    _, _, body = c.sign(LAUNCH, http_method="POST", body=urlencode(params),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in parse_qsl(body, keep_blank_values=True))
    return (f'<!doctype html><title>otrbot test launch</title>'
            f'<form method="post" action="{html.escape(LAUNCH)}">{fields}'
            f'<noscript><button>Launch otrbot</button></noscript></form>'
            f'<script>document.forms[0].submit()</script>')


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        page = signed_form(self.path.startswith("/instructor")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
