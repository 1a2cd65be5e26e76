#!/usr/bin/env python3
"""A local webhook receiver for trying execq's notifications: prints each POST it receives and
whether its signature checks out, and answers 204.

    python3 scripts/webhook-receiver.py --secret long-random-string [--port 8000]

Then in QUEUE/config.toml:  [notify] webhook = "http://127.0.0.1:8000/"  secret = "long-random-string"
and run `execq notify test`. It listens on 127.0.0.1 only. Standard library only.
"""

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--secret", help="the [notify] secret, to check X-Execq-Signature")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            stamp = self.headers.get("X-Execq-Timestamp", "")
            signature = self.headers.get("X-Execq-Signature", "")
            if args.secret is None:
                verdict = "not checked (no --secret)"
            else:
                expected = "sha256=" + hmac.new(
                    args.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
                good = hmac.compare_digest(expected, signature)
                verdict = "valid" if good and fresh else ("stale" if good else "INVALID")
            try:
                record = json.loads(body)
                result = record.get("result", {})
                what = f"{record.get('task_id')}: {result.get('status')} (exit {result.get('returncode')})"
            except (ValueError, AttributeError):
                what = f"{len(body)} bytes, not a JSON object"
            print(f"POST {self.path}  {what}  signature {verdict}", flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
