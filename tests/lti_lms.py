"""A pretend LMS outcome service for otrbot's grade tests.

Usage: lti_lms.py PORT KEY SECRET LOGFILE
Checks each POST's OAuth 1.0a HMAC-SHA1 signature with oauthlib and its oauth_body_hash with
hashlib, reads the replaceResult XML with ElementTree (namespaced, texts unescaped), then
answers like an LMS (imsx_codeMajor success, or failure with 401). Every request
is appended to LOGFILE as one JSON line: {"ok": bool, "why": str, "sourcedid": str, "score": str}.
"""
import base64
import hashlib
import json
import sys
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, HTTPServer

from oauthlib.common import Request
from oauthlib.oauth1.rfc5849 import signature

PORT, KEY, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
NS = {"x": "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"}

RESPONSE = """<?xml version="1.0" encoding="UTF-8"?>
<imsx_POXEnvelopeResponse xmlns="http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0">
  <imsx_POXHeader><imsx_POXResponseHeaderInfo><imsx_version>V1.0</imsx_version>
    <imsx_messageIdentifier>lms-1</imsx_messageIdentifier>
    <imsx_statusInfo><imsx_codeMajor>{code}</imsx_codeMajor><imsx_severity>status</imsx_severity>
      <imsx_description>{why}</imsx_description></imsx_statusInfo>
  </imsx_POXResponseHeaderInfo></imsx_POXHeader>
  <imsx_POXBody><replaceResultResponse/></imsx_POXBody>
</imsx_POXEnvelopeResponse>
"""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        uri = "http://%s%s" % (self.headers["Host"], self.path)
        auth = self.headers.get("Authorization", "")
        why = "ok"
        req = Request(uri, http_method="POST", body=None, headers={"Authorization": auth})
        params = dict(signature.collect_parameters(headers={"Authorization": auth},
                                                   exclude_oauth_signature=False))
        req.params = signature.collect_parameters(uri_query=uri.partition("?")[2],
                                                  headers={"Authorization": auth})
        req.signature = params.get("oauth_signature", "")
        if params.get("oauth_consumer_key") != KEY:
            why = "wrong consumer key"
        elif params.get("oauth_signature_method") != "HMAC-SHA1":
            why = "wrong signature method"
        elif not signature.verify_hmac_sha1(req, SECRET):
            why = "bad signature"
        elif params.get("oauth_body_hash") != base64.b64encode(hashlib.sha1(body).digest()).decode():
            why = "bad body hash"
        # Read as an LMS does: a namespaced replaceResult envelope, texts unescaped.
        sid = score = None
        try:
            root = ET.fromstring(body)
            request = root.find("x:imsx_POXBody/x:replaceResultRequest", NS)
            if root.tag != "{%s}imsx_POXEnvelopeRequest" % NS["x"] or request is None:
                raise ValueError("not a replaceResult envelope: " + root.tag)
            sid = request.findtext("x:resultRecord/x:sourcedGUID/x:sourcedId", None, NS)
            score = request.findtext("x:resultRecord/x:result/x:resultScore/x:textString", None, NS)
        except (ET.ParseError, ValueError) as e:
            if why == "ok":
                why = "bad XML: %s" % e
        ok = why == "ok"
        with open(LOG, "a") as f:
            f.write(json.dumps({"ok": ok, "why": why, "sourcedid": sid, "score": score}) + "\n")
        out = RESPONSE.format(code="success" if ok else "failure", why=why).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


srv = HTTPServer(("127.0.0.1", PORT), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
