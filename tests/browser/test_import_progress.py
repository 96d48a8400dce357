"""An import through the admin in Chromium: the progress bar moves while the job runs,
without a page reload, under the site's Content-Security-Policy."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from subscriptions.imports import pipeline
from subscriptions.models import ImportJob, Status, Subscription
from subscriptions.staff_groups import sync_groups
from tests.factories import KeywordFactory, ShortCodeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROWS = 40


@pytest.fixture
def queued(monkeypatch):
    """Keep uploaded jobs queued (no worker) so the test runs them step by step."""
    job_ids = []
    monkeypatch.setattr(pipeline, "_enqueue", job_ids.append)
    return job_ids


def test_import_progress_bar_updates_live(
    live_server, page, artifacts_dir, tmp_path, settings, queued, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 10)
    KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="DEALS")

    sync_groups(apps)  # a transactional test starts from a flushed database
    user = UserFactory(username="marketer", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    csv_path = tmp_path / "spring.csv"
    good = "".join(f"+1555000{n:04d},12345,DEALS,Active\n" for n in range(ROWS - 1))
    csv_path.write_text(f"phone,short_code,keyword,status\n{good}oops,12345,DEALS,Active\n")

    csp_violations = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.click("text=Import subscriptions from CSV")
    page.set_input_files("#id_file", str(csv_path))
    page.click("input[value='Upload and import']")
    page.wait_for_selector("#import-progress")
    job = ImportJob.objects.get(pk=queued[0])
    assert page.inner_text("#import-status") == "queued"
    page.evaluate("window.__sameDocument = true")

    def wait_for_page_to_show(progress):
        percent = int(100 * progress.processed / progress.total)
        # <progress>.value reflects to its attribute; expect() polls without eval (CSP).
        expect(page.locator("#import-progress")).to_have_attribute("value", str(percent))
        expect(page.locator("[data-count=processed]")).to_have_text(str(progress.processed))
        if progress.processed == ROWS // 2:
            page.screenshot(path=artifacts_dir / "import-half-way.png")

    pipeline.run(
        job, lambda: job.file.storage.open(job.file.name, "rb"), on_progress=wait_for_page_to_show
    )

    expect(page.locator("#import-status")).to_have_text("done")
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
    assert page.inner_text("#import-percent") == "100%"
    assert page.inner_text("[data-count=applied]") == str(ROWS - 1)
    assert page.inner_text("[data-count=errors]") == "1"
    assert csp_violations == []
    page.screenshot(path=artifacts_dir / "import-done.png")
    assert Subscription.objects.filter(status=Status.OPTED_IN).count() == ROWS - 1
