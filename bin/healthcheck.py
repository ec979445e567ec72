#!/usr/bin/env python3
"""Container health check for the web service: /health/ answers 200 through gunicorn and Django, which means
this process reaches the database and the broker (notifications/views/ops.py; 503 when either is down).

It asks as the public site would be asked (Host from SITE_URL, X-Forwarded-Proto https), so ALLOWED_HOSTS and
the HTTPS redirect behave as for real traffic. Standard library only; exit 0 when healthy.
"""

import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def main() -> int:
    host = urlsplit(os.environ.get("SITE_URL", "http://localhost")).netloc or "localhost"
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/health/", headers={"Host": host, "X-Forwarded-Proto": "https"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a fixed http URL to ourselves
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {exc.code} {exc.read(300).decode(errors='replace')}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
