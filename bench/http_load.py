"""Bare HTTP load, the baseline of bench_webhooks.py: POST a webhook-sized JSON body to the
given URLs, round robin, from --threads threads over kept-alive urllib3 connections (the
library the portal's sender uses), no portal code, no database. Prints "ready", waits for
a line on stdin (so that several processes start together), then prints
"<requests> <seconds>", the seconds from the first request to the last answer.

    python bench/http_load.py --threads 8 --requests 750 URL [URL ...]
"""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3

BODY = json.dumps(
    {
        "type": "consent.changed",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "data": {
            "event_id": 1,
            "phone": "+15555550100",
            "short_code": "58000",
            "keyword": "P0",
            "action": "opt_in",
            "old_status": None,
            "new_status": "opted_in",
            "source": "import",
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "recorded_at": "2026-01-01T00:00:00+00:00",
        },
    }
).encode()
HEADERS = {
    "Content-Type": "application/json",
    "webhook-id": "msg_" + "0" * 32,
    "webhook-timestamp": "1767225600",
    "webhook-signature": "v1," + "A" * 44,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    pool = urllib3.PoolManager(maxsize=args.threads, retries=False)

    def post(index):
        answer = pool.request("POST", args.urls[index % len(args.urls)], body=BODY, headers=HEADERS)
        if not 200 <= answer.status < 300:
            raise SystemExit(f"HTTP {answer.status}")

    print("ready", flush=True)
    sys.stdin.readline()
    with ThreadPoolExecutor(args.threads) as threads:
        started = time.monotonic()
        list(threads.map(post, range(args.requests)))
        print(args.requests, time.monotonic() - started, flush=True)


if __name__ == "__main__":
    main()
