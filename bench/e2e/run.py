"""The end-to-end fault run (issue 6): the real stack under load while faults are injected,
then the invariants. See bench/e2e/__init__.py for how to run it."""

import json
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e import checks, faults, load
from bench.e2e.cluster import PrivateCluster
from bench.e2e.portal_side import PROGRAMS
from bench.e2e.stack import ROOT, Stack, free_port, portal_env
from tests.fakes import FakeSfmc, FakeSkyCore, FakeWhatCounts

TOGGLES = 100
FAKE_LATENCY_S = 0.01


@dataclass(frozen=True)
class Config:
    outage_seconds: float = 60.0  # each provider's outage; the three overlap
    client_threads: int = 4
    client_pause: float = 0.1
    phones: int = 40
    postback_phones: int = 60
    postback_threads: int = 2
    db_down_seconds: float = 3.0
    backoff: float = 0.5
    backoff_max: float = 4.0
    lease: float = 10.0
    # A due row still waiting this long counts as lost (an enqueue lost to the database
    # restart); a re-drive of one merely late costs a no-op task.
    redrive: float = 30.0
    # Bounded wait for the outbox to empty after the load: the workers first work through
    # the retry tasks queued during the outages (about 45-85 s measured on two busy cores).
    drain_timeout: float = 240.0
    seed: int = 6
    log_dir: str = ""

    @property
    def stagger(self):
        return self.outage_seconds / 3

    def timeline_end(self):
        """Load runs from 0 to here: the outages start at 10 s, one stagger apart."""
        return 10 + 2 * self.stagger + self.outage_seconds + 15


@dataclass
class Report:
    results: dict
    counts: dict = field(default_factory=dict)
    lost: int = 0

    @property
    def passed(self):
        return self.lost == 0 and not any(self.results.values())


def start_fakes(cleanup):
    fakes = {
        "sfmc": FakeSfmc(delay=FAKE_LATENCY_S),
        "whatcounts": FakeWhatCounts(delay=FAKE_LATENCY_S),
        "skycore": FakeSkyCore(delay=FAKE_LATENCY_S),
    }
    for fake in fakes.values():
        cleanup.callback(fake.stop)
    return fakes


def portal_side(env, *args, timeout):
    done = subprocess.run(
        [sys.executable, "-m", "bench.e2e.portal_side", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"portal_side {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def phone(n, block):
    return f"+1650{block}{n:05d}"


def build_timeline(config, fakes, stack, cluster, client, fault_log):
    start, gap, outage = 10, config.stagger, config.outage_seconds
    toggle_phone, toggle_program = phone(0, 99), PROGRAMS["whatcounts"]

    def storm():
        load.toggle_storm(client, toggle_phone, toggle_program, TOGGLES)
        fault_log.count("concurrent toggles", TOGGLES)

    return [
        (start, lambda: faults.provider_outage(fakes["sfmc"], "sfmc", outage, fault_log)),
        (
            start + gap,
            lambda: faults.provider_outage(
                fakes["whatcounts"], "whatcounts", outage, fault_log, hang=True
            ),
        ),
        (
            start + 2 * gap,
            lambda: faults.provider_outage(fakes["skycore"], "skycore", outage, fault_log),
        ),
        (start + outage / 2, lambda: faults.kill_worker(stack, fault_log)),
        (start + outage, storm),  # while WhatCounts hangs: the toggles pile up in the outbox
        (
            start + outage + gap,
            lambda: faults.restart_database(cluster, config.db_down_seconds, fault_log),
        ),
    ]


def start_load(config, client, plan, stop):
    programs = list(PROGRAMS.values())
    phones = [phone(n, 11) for n in range(config.phones)]
    threads = [
        threading.Thread(
            target=load.steady_load,
            args=(
                client,
                phones,
                programs,
                PROGRAMS["sfmc"],
                stop,
                config.seed + n,
                config.client_pause,
            ),
        )
        for n in range(config.client_threads)
    ]
    # Spread the postbacks over most of the load window.
    pause = 0.8 * config.timeline_end() * config.postback_threads / len(plan.deliveries)
    sender = load.deliver_postbacks(client, plan, pause)
    threads += [threading.Thread(target=sender) for _ in range(config.postback_threads)]
    for thread in threads:
        thread.start()
    return threads


def run(config: Config) -> Report:
    log_dir = config.log_dir or tempfile.mkdtemp(prefix="portal-e2e-logs-")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    with ExitStack() as cleanup:
        fakes = start_fakes(cleanup)
        cluster = PrivateCluster(free_port(), "portal_e2e")
        cleanup.callback(cluster.destroy)
        cluster.create()
        env = portal_env(cluster.url, config)
        urls = {kind: fake.url for kind, fake in fakes.items()}
        seeded = portal_side(env, "seed", json.dumps(urls), timeout=120)
        stack = Stack(env, log_dir)
        cleanup.callback(stack.stop)
        stack.start()

        ledger, fault_log, stop = load.Ledger(), faults.FaultLog(), threading.Event()
        client = load.PortalClient(
            stack.port, seeded["token"], seeded["postback_tokens"]["skycore"], ledger, fakes["sfmc"]
        )
        postback_phones = [phone(n, 22) for n in range(config.postback_phones)]
        plan = load.plan_postbacks(postback_phones, PROGRAMS["skycore"], config.seed)
        for number, subscribed in plan.final.items():  # what SkyCore itself now holds
            fakes["skycore"].state[(number.lstrip("+"), PROGRAMS["skycore"]["ref"])] = subscribed

        began = time.monotonic()
        threads = start_load(config, client, plan, stop)
        timeline = build_timeline(config, fakes, stack, cluster, client, fault_log)
        faults.run_timeline(timeline, began)
        time.sleep(max(0.0, began + config.timeline_end() - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join()
        load_seconds = time.monotonic() - began

        snapshot = portal_side(
            env,
            "snapshot",
            "--drain-timeout",
            str(config.drain_timeout),
            timeout=config.drain_timeout + 120,
        )
        fault_log.counts.update({f"{name} restarts": n for name, n in stack.restarts().items()})
        results = checks.evaluate(snapshot, ledger, fakes, fault_log, plan)
        report = Report(results, lost=checks.lost(results, snapshot))
        report.counts = summarize(snapshot, ledger, fakes, fault_log, plan, load_seconds)
        report.counts["logs"] = log_dir
        return report


def summarize(snapshot, ledger, fakes, fault_log, plan, load_seconds):
    statuses = {}
    for attempt in ledger.attempts:
        key = str(attempt.status or "no answer")
        statuses[key] = statuses.get(key, 0) + 1
    outcomes = {}
    for event in snapshot["events"]:
        outcomes[event["outcome"]] = outcomes.get(event["outcome"], 0) + 1
    return {
        "load seconds": round(load_seconds, 1),
        "requests acknowledged": dict(ledger.requests),
        "HTTP attempts": len(ledger.attempts),
        "answers by status": statuses,
        "faults injected": {
            **fault_log.counts,
            "provider fault answers": fault_log.provider_fault_answers,
            "postbacks delivered twice": len(plan.deliveries) // 2,
            "numbers with postbacks out of order": plan.out_of_order_phones,
        },
        "events": {"total": len(snapshot["events"]), **outcomes},
        "acknowledged opt-outs": len(ledger.opt_outs),
        "subscriptions": len(snapshot["subscriptions"]),
        "deliveries": {
            "syncs": snapshot["syncs"],
            "sync attempts": snapshot["sync_attempts"],
            "texts": snapshot["messages"],
            "worker tasks": snapshot["tasks"],
            "provider requests": {k: len(f.requests) for k, f in fakes.items()},
            "provider calls without an answer": snapshot["call_failures"],
        },
        "drain seconds": snapshot["drain_seconds"],
    }


def print_report(report, out=sys.stdout):
    print("== end-to-end fault run", file=out)
    for name, value in report.counts.items():
        print(f"{name}: {json.dumps(value) if isinstance(value, dict) else value}", file=out)
    for name, problems in report.results.items():
        print(
            f"[{'FAIL' if problems else 'ok'}] {name}"
            + (f": {len(problems)} violations" if problems else ""),
            file=out,
        )
        for line in problems[: checks.LISTED]:
            print(f"    {line}", file=out)
    print(f"lost = {report.lost}", file=out)
    print("PASS" if report.passed else "FAIL", file=out)
