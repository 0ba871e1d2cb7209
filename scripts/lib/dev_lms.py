"""A pretend LMS for scripts/try: the launches a course gives out, and the gradebook that
otrbot's grades come back to.

    python3 scripts/lib/dev_lms.py PORT TOOL_LAUNCH_URL CONSUMER_KEY CONSUMER_SECRET

  /             a learner's launch (/?learner=2 or 3: another learner of the course)
  /instructor   an instructor's launch
  /gradebook    the grades received, per learner (refreshes itself every 5 s)
  /outcomes     the LTI 1.1 Basic Outcomes service (POST; replaceResult, readResult, deleteResult)

Each GET of a launch returns a freshly signed LTI 1.1 launch that submits itself to the tool,
with what Moodle and Canvas send for naming and grading (lis_person_name_*, an e-mail address,
lis_outcome_service_url, lis_result_sourcedid per learner and resource link). Launches are
signed with oauthlib, not otrbot's own code; the outcome service checks each POST with
oauthlib's server-side verification (SignatureOnlyEndpoint) and the oauth_body_hash with
hashlib, reads the imsx POX XML with ElementTree (size bound, no DTD), keeps scores in memory,
and answers an imsx_POXEnvelopeResponse: success, or failure saying why.

PORT 0 takes any free port and prints it as the first line of standard output (the tests'
way). tests/lti_lms.py uses the OutcomeService below for otrbot's grade tests.
"""
import base64
import hashlib
import hmac
import html
import json
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import (SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_BODY, Client,
                             RequestValidator, SignatureOnlyEndpoint)
from oauthlib.oauth1.rfc5849 import errors as oauth_errors

NS = "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"
# The longest outcome request read (otrbot's are under 1 KiB).
MAX_BODY = 64 * 1024
OPERATIONS = ("replaceResult", "readResult", "deleteResult")
DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")

ET.register_namespace("", NS)


class _Validator(RequestValidator):
    """What oauthlib asks an OAuth 1.0a provider: one consumer, HMAC-SHA1, nonces kept for as
    long as their timestamps are accepted."""

    def __init__(self, key, secret):
        super().__init__()
        self.key, self.secret = key, secret
        self.nonces = {}
        self.lock = threading.Lock()

    # A loopback LMS for tries and tests: plain http.
    enforce_ssl = False
    allowed_signature_methods = (SIGNATURE_HMAC_SHA1,)
    dummy_client = "dummy-consumer"

    def check_client_key(self, client_key):
        # LMS consumer keys are free text, not oauthlib's default 20-30 safe characters.
        return 0 < len(client_key) <= 255

    def check_nonce(self, nonce):
        return 0 < len(nonce) <= 255

    def validate_client_key(self, client_key, request):
        return hmac.compare_digest(client_key.encode(), self.key.encode())

    def get_client_secret(self, client_key, request):
        # The dummy consumer gets a secret too, so that an unknown key costs the same work.
        return self.secret if client_key == self.key else "dummy-secret-for-unknown-keys"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        now = time.time()
        with self.lock:
            for k in [k for k, t in self.nonces.items() if now - t > 2 * self.timestamp_lifetime]:
                del self.nonces[k]
            if (client_key, timestamp, nonce) in self.nonces:
                request.why = ("replayed nonce", "this oauth_nonce was used before: a replayed request")
                return False
            self.nonces[(client_key, timestamp, nonce)] = now
            return True


class _Endpoint(SignatureOnlyEndpoint):
    """oauthlib's verification, keeping the reason a request failed its checks."""

    def _check_mandatory_parameters(self, request):
        try:
            super()._check_mandatory_parameters(request)
        except oauth_errors.InvalidSignatureMethodError:
            request.why = ("wrong signature method",
                           "oauth_signature_method %r is not accepted: LTI 1.1 signs with HMAC-SHA1"
                           % request.signature_method)
            raise
        except oauth_errors.OAuth1Error as e:
            request.why = ("bad OAuth request", "the OAuth parameters are not acceptable: %s"
                           % e.description)
            raise


class Answer:
    """What the service made of one outcome request."""

    def __init__(self):
        self.status = 200
        self.ok = False
        self.code = "ok"            # a short reason, e.g. "bad signature"
        self.description = "ok"     # the sentence the LMS answers with
        self.operation = None       # "replaceResult", ...
        self.message_id = None
        self.sourcedid = None
        self.score = None           # the score's text as received
        self.body = b""             # the imsx_POXEnvelopeResponse

    def refuse(self, status, code, description):
        if self.code == "ok":
            self.status, self.code, self.description = status, code, description


class OutcomeService:
    """The LTI 1.1 Basic Outcomes service of an LMS with one consumer (key, secret).

    `known(sourcedid)` says whether the LMS gave that lis_result_sourcedid out (None: any).
    Scores are kept in memory (sourcedid -> (text, float, unix time))."""

    def __init__(self, key, secret, known=None):
        self.key = key
        self.endpoint = _Endpoint(_Validator(key, secret))
        self.known = known
        self.scores = {}
        self.lock = threading.Lock()

    def handle(self, uri, headers, body):
        """One POST to the service: `uri` as the tool signed it, its headers, the raw body."""
        a = Answer()
        self._authenticate(a, uri, headers, body)
        # Read even a refused request, to say whose it claimed to be; act only on a good one.
        op = self._read(a, body)
        if a.code == "ok":
            self._apply(a, op)
        a.ok = a.code == "ok"
        a.body = self._response(a)
        return a

    def _authenticate(self, a, uri, headers, body):
        auth = headers.get("Authorization", "")
        try:
            ok, req = self.endpoint.validate_request(
                uri, http_method="POST", body=body.decode("utf-8", "replace"),
                headers={"Authorization": auth, "Content-Type": headers.get("Content-Type", "")})
        except ValueError as e:  # oauthlib refuses some URIs and header texts outright
            return a.refuse(401, "bad OAuth request", "the request cannot be read as OAuth 1.0a: %s" % e)
        if req is None:
            return a.refuse(401, "bad OAuth request",
                            "no usable OAuth 1.0a Authorization header (missing, or a parameter twice)")
        if not ok:
            if getattr(req, "why", None):
                return a.refuse(401, *req.why)
            if not req.validator_log.get("client", True):
                return a.refuse(401, "wrong consumer key",
                                "unknown oauth_consumer_key %r: this LMS knows only %r"
                                % (req.oauth_params.get("oauth_consumer_key"), self.key))
            return a.refuse(401, "bad signature",
                            "the OAuth 1.0a HMAC-SHA1 signature does not verify: signed with another "
                            "consumer secret, or for another URL")
        given = req.oauth_params.get("oauth_body_hash")
        if given is None:
            return a.refuse(401, "bad body hash",
                            "no oauth_body_hash: an LTI 1.1 outcome request signs a hash of its body")
        want = base64.b64encode(hashlib.sha1(body).digest()).decode()
        if not hmac.compare_digest(given.encode(), want.encode()):
            return a.refuse(401, "bad body hash",
                            "oauth_body_hash is not the base64 SHA-1 of the body received")

    def _read(self, a, body):
        """The operation element of an imsx_POXEnvelopeRequest, or None (a.code says why)."""
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            a.refuse(400, "bad XML", "the body holds a DTD; imsx POX messages have none")
            return None
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            a.refuse(400, "bad XML", "the body is not well-formed XML: %s" % e)
            return None
        if root.tag != "{%s}imsx_POXEnvelopeRequest" % NS:
            a.refuse(400, "bad XML", "not an imsx_POXEnvelopeRequest in the LTI 1.1 outcomes namespace "
                     "(the root is %s)" % root.tag)
            return None
        a.message_id = root.findtext("{%s}imsx_POXHeader/{%s}imsx_POXRequestHeaderInfo/"
                                     "{%s}imsx_messageIdentifier" % (NS, NS, NS))
        pox_body = root.find("{%s}imsx_POXBody" % NS)
        ops = [] if pox_body is None else list(pox_body)
        if len(ops) != 1 or not ops[0].tag.startswith("{%s}" % NS) or not ops[0].tag.endswith("Request"):
            a.refuse(400, "bad XML", "imsx_POXBody must hold exactly one ...Request element")
            return None
        op = ops[0]
        a.operation = op.tag[len(NS) + 2:-len("Request")]
        a.sourcedid = op.findtext("{%s}resultRecord/{%s}sourcedGUID/{%s}sourcedId" % (NS, NS, NS))
        a.score = op.findtext("{%s}resultRecord/{%s}result/{%s}resultScore/{%s}textString"
                              % (NS, NS, NS, NS))
        return op

    def _apply(self, a, op):
        if a.operation not in OPERATIONS:
            return a.refuse(200, "unsupported", "operation %s is not supported (%s are)"
                            % (a.operation, ", ".join(OPERATIONS)))
        if a.sourcedid is None:
            return a.refuse(200, "unknown sourcedid", "no resultRecord/sourcedGUID/sourcedId")
        if self.known is not None and not self.known(a.sourcedid):
            return a.refuse(200, "unknown sourcedid",
                            "unknown lis_result_sourcedid %r: not one this LMS gave out" % a.sourcedid)
        if a.operation == "replaceResult":
            text = (a.score or "").strip()
            if not DECIMAL.fullmatch(text):
                return a.refuse(200, "score out of range",
                                "resultScore %r is not a decimal number from 0.0 to 1.0" % a.score)
            value = float(text)
            if not 0.0 <= value <= 1.0:
                return a.refuse(200, "score out of range",
                                "resultScore %s is outside 0.0..1.0" % text)
            with self.lock:
                self.scores[a.sourcedid] = (text, value, time.time())
            a.description = "score %s recorded" % text
        elif a.operation == "readResult":
            with self.lock:
                got = self.scores.get(a.sourcedid)
            a.score = got[0] if got else ""
            a.description = "score read" if got else "no score yet"
        else:
            with self.lock:
                self.scores.pop(a.sourcedid, None)
            a.description = "score deleted"

    def _response(self, a):
        def sub(parent, name, text=None):
            e = ET.SubElement(parent, "{%s}%s" % (NS, name))
            if text is not None:
                e.text = text
            return e

        root = ET.Element("{%s}imsx_POXEnvelopeResponse" % NS)
        info = sub(sub(root, "imsx_POXHeader"), "imsx_POXResponseHeaderInfo")
        sub(info, "imsx_version", "V1.0")
        sub(info, "imsx_messageIdentifier", "lms-%d" % time.time_ns())
        status = sub(info, "imsx_statusInfo")
        major = "success" if a.ok else ("unsupported" if a.code == "unsupported" else "failure")
        sub(status, "imsx_codeMajor", major)
        sub(status, "imsx_severity", "status" if a.ok else "error")
        sub(status, "imsx_description", a.description)
        sub(status, "imsx_messageRefIdentifier", a.message_id or "")
        sub(status, "imsx_operationRefIdentifier", a.operation or "")
        body = sub(root, "imsx_POXBody")
        if a.ok:
            out = sub(body, "%sResponse" % a.operation)
            if a.operation == "readResult":
                score = sub(sub(out, "result"), "resultScore")
                sub(score, "language", "en")
                sub(score, "textString", a.score)
        return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                + ET.tostring(root, encoding="unicode").encode())


def read_post(handler):
    """The body of a POST, or None after answering 411/413 (bounded by MAX_BODY)."""
    try:
        n = int(handler.headers.get("Content-Length", ""))
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_BODY:
        handler.close_connection = True
        reply(handler, 413 if n > MAX_BODY else 411, "text/plain; charset=utf-8",
              b"an outcome request needs a Content-Length of at most %d bytes\n" % MAX_BODY)
        return None
    return handler.rfile.read(n)


def request_uri(handler):
    """The URI the tool signed: its Host header and the path (the query is signed too)."""
    host = handler.headers.get("Host") or "%s:%d" % handler.server.server_address[:2]
    return "http://%s%s" % (host, handler.path)


def reply(handler, status, content_type, body, extra=()):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in extra:
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)


# ---- The pretend course ----------------------------------------------------------------------

CONTEXT = {"context_id": "try-course", "context_label": "OTR101", "context_title": "Trying otrbot",
           "context_type": "CourseSection"}
LINK = {"resource_link_id": "otrbot-try", "resource_link_title": "Private chat with OTR",
        "resource_link_description": "Switch on encryption in your chat client and verify the bot"}
# The course's learners: user id, given name, family name, e-mail.
LEARNERS = [
    ("learner-1", "Ada", "Lovelace", "ada.lovelace@example.org"),
    ("learner-2", "Seán", "O'Brien", "sean.obrien@example.org"),
    ("learner-3", "Grace", "Hopper", "grace.hopper@example.org"),
]
INSTRUCTOR = ("teacher-1", "Tess", "Teacher", "tess.teacher@example.org")


def sourcedid_of(user_id):
    """lis_result_sourcedid for a learner and this resource link, as Moodle makes it: JSON data
    and a SHA-256 hash over it (so otrbot carries quotes and braces to the XML and back)."""
    data = {"instanceid": LINK["resource_link_id"], "userid": user_id, "typeid": CONTEXT["context_id"]}
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256((text + "otrbot-try-salt").encode()).hexdigest()
    return json.dumps({"data": data, "hash": digest}, separators=(",", ":"))


class Gradebook:
    """The course's learners, the outcome service, and what came to it."""

    def __init__(self, key, secret):
        self.learners = {sourcedid_of(u): (u, "%s %s" % (g, f)) for u, g, f, _ in LEARNERS}
        self.service = OutcomeService(key, secret, known=lambda s: s in self.learners)
        self.counts = {}             # sourcedid -> [accepted, refused]
        self.anonymous_refused = 0   # refused requests that named no learner of the course
        self.recent = deque(maxlen=20)
        self.lock = threading.Lock()

    def handle(self, uri, headers, body):
        a = self.service.handle(uri, headers, body)
        with self.lock:
            if a.sourcedid in self.learners:
                self.counts.setdefault(a.sourcedid, [0, 0])[0 if a.ok else 1] += 1
            elif not a.ok:
                self.anonymous_refused += 1
            self.recent.appendleft((time.time(), a))
        return a

    def page(self):
        e = html.escape
        with self.lock, self.service.lock:
            rows = []
            for sid, (user, name) in self.learners.items():
                got = self.service.scores.get(sid)
                accepted, refused = self.counts.get(sid, (0, 0))
                score = "%s (%s%%)" % (got[0], format(got[1] * 100, ".4g")) if got else "no grade yet"
                rows.append(
                    '<tr data-user="%s"><td>%s</td><td><code>%s</code></td><td class="score">%s</td>'
                    '<td>%s</td><td class="requests">%d accepted, %d refused</td></tr>'
                    % (e(user), e(name), e(user), e(score), e(when_of(got[2]) if got else ""),
                       accepted, refused))
            recent = [
                '<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                % (e(when_of(t)), e(a.operation or "?"),
                   e(self.learners[a.sourcedid][1] if a.sourcedid in self.learners
                     else a.sourcedid or "?"),
                   "accepted" if a.ok else "<strong>refused</strong>: " + e(a.code),
                   e(a.description))
                for t, a in self.recent]
            anonymous = self.anonymous_refused
        if recent:
            recent_table = ('<table><tr><th>When</th><th>Operation</th><th>For</th><th>Result</th>'
                            '<th>The LMS answered</th></tr>%s</table>' % "".join(recent))
        else:
            recent_table = "<p>None yet.</p>"
        launches = ", ".join('<a href="/?learner=%d">%s %s</a>' % (i + 1, e(g), e(f))
                             for i, (_, g, f, _) in enumerate(LEARNERS))
        title = e(CONTEXT["context_title"])
        rows = "".join(rows)
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>Gradebook · {title}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:.3em .6em;text-align:left}}</style></head><body>
<h1>Gradebook: {title}</h1>
<p>The grades otrbot sent back to this pretend LMS (LTI 1.1 Basic Outcomes; each request's
signature checked with oauthlib). This page refreshes itself every 5 seconds.</p>
<table><tr><th>Learner</th><th>User id</th><th>Score</th><th>Received</th><th>Outcome requests</th></tr>
{rows}</table>
<p>Refused requests that named no learner of this course: {anonymous}.</p>
<h2>Latest outcome requests</h2>
{recent_table}
<p>Launch as {launches} (learners) or <a href="/instructor">the instructor</a>.</p>
</body></html>
""".encode()


def when_of(t):
    return datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def launch_params(port, who, instructor):
    user, given, family, email = who
    params = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        **CONTEXT,
        **LINK,
        "user_id": user,
        "roles": "Instructor" if instructor else "Learner",
        "lis_person_name_given": given,
        "lis_person_name_family": family,
        "lis_person_name_full": "%s %s" % (given, family),
        "lis_person_contact_email_primary": email,
        "ext_user_username": email.split("@")[0],
        "launch_presentation_locale": "en-GB",
        "launch_presentation_document_target": "iframe",
        "launch_presentation_return_url": f"http://127.0.0.1:{port}/gradebook",
        "tool_consumer_info_product_family_code": "moodle",
        "tool_consumer_info_version": "2022112800",
        "tool_consumer_instance_guid": "127.0.0.1",
        "tool_consumer_instance_name": "otrbot's pretend LMS",
        "ext_lms": "moodle-2",
        # As Canvas does: the outcome service for everyone, a result only for learners.
        "lis_outcome_service_url": f"http://127.0.0.1:{port}/outcomes",
    }
    if not instructor:
        params["lis_result_sourcedid"] = sourcedid_of(user)
    return params


def signed_form(launch, key, secret, params):
    c = Client(key, client_secret=secret, signature_method=SIGNATURE_HMAC_SHA1,
               signature_type=SIGNATURE_TYPE_BODY)
    _, _, body = c.sign(launch, http_method="POST", body=urlencode(params),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in parse_qsl(body, keep_blank_values=True))
    who = html.escape(params["lis_person_name_full"])
    return (f'<!doctype html><html lang="en"><meta charset="utf-8"><title>otrbot test launch</title>'
            f'<form method="post" action="{html.escape(launch)}">{fields}'
            f'<noscript><p>Launching otrbot as {who}: <button>Launch otrbot</button></p>'
            f'<p>The grades otrbot sends back: <a href="/gradebook">the gradebook</a>.</p>'
            f'</noscript></form>'
            f'<script>document.forms[0].submit()</script></html>')


def main():
    port, launch, key, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    book = Gradebook(key, secret)
    bound = []  # the port listened on (PORT 0: the one the system chose)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/gradebook":
                return reply(self, 200, "text/html; charset=utf-8", book.page(),
                             [("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
                              ("Cache-Control", "no-store")])
            if url.path in ("/", "/instructor"):
                instructor = url.path == "/instructor"
                n = parse_qs(url.query).get("learner", ["1"])[0]
                if instructor:
                    who = INSTRUCTOR
                elif n in [str(i + 1) for i in range(len(LEARNERS))]:
                    who = LEARNERS[int(n) - 1]
                else:
                    return reply(self, 404, "text/plain; charset=utf-8",
                                 b"no such learner: try /?learner=1, 2 or 3\n")
                page = signed_form(launch, key, secret, launch_params(bound[0], who, instructor))
                return reply(self, 200, "text/html; charset=utf-8", page.encode(),
                             [("Cache-Control", "no-store")])
            reply(self, 404, "text/plain; charset=utf-8",
                  b"not here: / (a learner's launch), /instructor, /gradebook\n")

        def do_POST(self):
            if urlsplit(self.path).path != "/outcomes":
                self.close_connection = True
                return reply(self, 404, "text/plain; charset=utf-8", b"POST grades to /outcomes\n")
            body = read_post(self)
            if body is None:
                return
            a = book.handle(request_uri(self), self.headers, body)
            reply(self, a.status, "application/xml; charset=utf-8", a.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    bound.append(server.server_address[1])
    if port == 0:
        print(bound[0], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
