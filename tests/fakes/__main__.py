"""Run a fake provider from a shell: python -m tests.fakes KIND [--port N] [--delay S]."""

import argparse
import time

from tests.fakes import FakeSfmc, FakeSkyCore, FakeWhatCounts

KINDS = {"sfmc": FakeSfmc, "skycore": FakeSkyCore, "whatcounts": FakeWhatCounts}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per answer")
    args = parser.parse_args()
    fake = KINDS[args.kind](port=args.port, delay=args.delay)
    print(f"fake {args.kind} listening on {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


main()
