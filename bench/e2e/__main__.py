import argparse
import sys

from bench.e2e.run import Config, print_report, run


def main():
    parser = argparse.ArgumentParser(description="End-to-end fault run (bench/e2e).")
    parser.add_argument("--outage-seconds", type=float, default=Config.outage_seconds)
    parser.add_argument("--log-dir", default="", help="keep the processes' logs here")
    args = parser.parse_args()
    report = run(Config(outage_seconds=args.outage_seconds, log_dir=args.log_dir))
    print_report(report)
    sys.exit(0 if report.passed else 1)


main()
