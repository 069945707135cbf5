"""``python -m aqt_labelstudio.healthcheck [URL]``: exit 0 when the backend answers ``/health``.

A 401 counts as up (basic auth is on and the server answered). Used by the Docker HEALTHCHECK.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(url: str = "http://127.0.0.1:9090/health") -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return 0 if resp.status == 200 else 1
    except urllib.error.HTTPError as exc:
        return 0 if exc.code == 401 else 1
    except (OSError, ValueError):
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
