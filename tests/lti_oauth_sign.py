"""Signs LTI launches with oauthlib (an OAuth 1.0a implementation independent of otrbot's).

stdin: JSON list of {"url", "key", "secret", "params": {..}, "timestamp"?, "nonce"?}
stdout: JSON list of signed form bodies (application/x-www-form-urlencoded strings).
"""
import json
import sys
from urllib.parse import urlencode

from oauthlib.oauth1 import Client, SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_BODY

out = []
for r in json.load(sys.stdin):
    kw = {}
    if r.get("timestamp") is not None:
        kw["timestamp"] = str(r["timestamp"])
    if r.get("nonce") is not None:
        kw["nonce"] = r["nonce"]
    c = Client(r["key"], client_secret=r["secret"], signature_method=SIGNATURE_HMAC_SHA1,
               signature_type=SIGNATURE_TYPE_BODY, **kw)
    _, _, body = c.sign(r["url"], http_method="POST", body=urlencode(r["params"]),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    out.append(body)
json.dump(out, sys.stdout)
