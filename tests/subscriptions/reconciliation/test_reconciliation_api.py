"""The reconciliation endpoints (docs/api.md), the admin's drift list and its CSV export,
/metrics, and `manage.py reconcile_providers`."""

import pytest
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.models import Drift, Reconciliation, RunStatus
from tests.subscriptions.api.conftest import token_client
from tests.subscriptions.conftest import programs

pytestmark = pytest.mark.django_db

PHONE = "+15555550111"
DIGITS = PHONE.lstrip("+")


@pytest.fixture
def drifted(sfmc, sfmc_account):
    code, (deals,) = programs(sfmc_account, "DEALS")
    sfmc.short_codes["DEALS"] = code.code
    services.opt_out(PHONE, deals, Context(source="api"))
    sfmc.set_held(DIGITS, "DEALS", True)
    return code


def test_post_reconcile_queues_a_run_on_the_bulk_queue_that_finds_the_drift(
    sfmc, sfmc_account, drifted, django_capture_on_commit_callbacks
):
    client = token_client("reconcile_providers", "view_reconciliation")
    with django_capture_on_commit_callbacks(execute=True):  # the immediate backend runs it
        response = client.post(
            f"/api/v1/providers/{sfmc_account.pk}/reconcile/",
            {"short_code": drifted.code},
            format="json",
        )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    run_id = response.json()["id"]

    detail = client.get(f"/api/v1/reconciliations/{run_id}/").json()
    assert {k: detail[k] for k in ["provider", "short_code", "status", "checked", "drift"]} == {
        "provider": sfmc_account.pk,
        "short_code": drifted.code,
        "status": "done",
        "checked": 1,
        "drift": 1,
    }
    assert detail["in_step"] == 0 and detail["dry_run"] is False and detail["finished_at"]
    drift = client.get(f"/api/v1/reconciliations/{run_id}/drift/").json()
    assert drift["results"] == [
        {
            "phone": PHONE,
            "short_code": drifted.code,
            "keyword": "DEALS",
            "portal": "out",
            "provider": "in",
            "action": "opt_out_sent",
        }
    ]
    assert sfmc.state[(DIGITS, "DEALS")] is False


def test_bad_reconcile_requests_get_a_clear_4xx_and_change_nothing(sfmc_account, skycore_account):
    other, _keywords = programs(skycore_account, "NEWS")
    client = token_client("reconcile_providers", "view_reconciliation")
    assert client.post("/api/v1/providers/999999/reconcile/", {}, format="json").status_code == 404
    assert client.post("/api/v1/providers/x%00/reconcile/", {}, format="json").status_code == 404
    url = f"/api/v1/providers/{sfmc_account.pk}/reconcile/"
    for body in ({"short_code": other.code}, {"short_code": "nope"}, {"dry_run": "maybe"}):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, body
    assert client.get("/api/v1/reconciliations/123/").status_code == 404
    assert client.get("/api/v1/reconciliations/abc/drift/").status_code == 404
    reader = token_client("view_reconciliation")
    assert reader.post(url, {}, format="json").status_code == 403
    assert not Reconciliation.objects.exists()


def test_drift_is_in_the_admin_with_filters_and_a_csv_export_and_in_metrics(
    sfmc, sfmc_account, drifted, admin_client, settings
):
    call_command("reconcile_providers", "--provider", str(sfmc_account.pk))
    assert Drift.objects.count() == 1

    page = admin_client.get("/admin/subscriptions/drift/?action__exact=opt_out_sent")
    assert page.status_code == 200 and PHONE.encode() in page.content
    assert b"export.csv" in page.content
    empty = admin_client.get("/admin/subscriptions/drift/?action__exact=reported")
    assert PHONE.encode() not in empty.content
    export = admin_client.get("/admin/subscriptions/drift/export.csv?action__exact=opt_out_sent")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("reconciliation,provider,phone")
    assert len(lines) == 2 and f"{PHONE},{drifted.code},DEALS,out,in,opt_out_sent" in lines[1]
    assert admin_client.get("/admin/subscriptions/reconciliation/").status_code == 200

    settings.PORTAL_METRICS_TOKEN = "m-token"
    text = admin_client.get("/metrics", headers={"Authorization": "Bearer m-token"}).content
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }
    key = (
        "portal_reconciliation_drift",
        (("action", "opt_out_sent"), ("provider", sfmc_account.name)),
    )
    assert samples[key] == 1


def test_the_command_reports_and_a_dry_run_sends_nothing(sfmc, sfmc_account, drifted, capsys):
    call_command("reconcile_providers", "--short-code", drifted.code, "--dry-run")
    out = capsys.readouterr().out
    assert "done, checked 1, in step 0, drift 1 (dry run)" in out
    assert sfmc.state[(DIGITS, "DEALS")] is True
    assert Reconciliation.objects.get().status == RunStatus.DONE


def test_the_command_can_only_queue_the_runs(sfmc_account, drifted, capsys):
    call_command("reconcile_providers", "--queue")  # no worker here: it stays queued
    assert "queued 1 reconciliation(s)" in capsys.readouterr().out
    assert Reconciliation.objects.get().status == RunStatus.QUEUED
