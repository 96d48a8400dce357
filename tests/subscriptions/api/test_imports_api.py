import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from subscriptions.models import ImportJob, Status, Subscription, SubscriptionEvent
from tests.factories import KeywordFactory, ShortCodeFactory, UserFactory
from tests.subscriptions.imports.helpers import csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def join():
    return KeywordFactory(short_code=ShortCodeFactory(code="12345"), word="JOIN")


def client_for(*perms):
    user = UserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, user


def upload(client, data, **extra):
    return client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("list.csv", data, "text/csv"), **extra},
        format="multipart",
    )


def test_post_answers_202_and_the_worker_imports_after_commit(join, on_commit):
    client, user = client_for("import_subscriptions")
    with on_commit():
        response = upload(
            client,
            csv_bytes("+15555550001,12345,JOIN,Active,,", "+15555550002,12345,JOIN,Sometimes,,"),
        )
    assert response.status_code == 202
    body = response.json()
    assert {
        k: body[k] for k in ("status", "total", "processed", "applied", "refused", "errors")
    } == {"status": "queued", "total": 0, "processed": 0, "applied": 0, "refused": 0, "errors": 0}
    progress = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert {
        k: progress[k]
        for k in ("id", "status", "total", "processed", "applied", "refused", "errors")
    } == {
        "id": body["id"],
        "status": "done",
        "total": 2,
        "processed": 2,
        "applied": 1,
        "refused": 0,
        "errors": 1,
    }
    assert Subscription.objects.get().status == Status.OPTED_IN
    assert SubscriptionEvent.objects.get().actor == user

    errors = client.get(f"/api/v1/imports/{body['id']}/errors.csv")
    assert errors["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode())))
    assert rows == [
        ["line", "phone", "short_code", "keyword", "status", "error"],
        [
            "3",
            "+15555550002",
            "12345",
            "JOIN",
            "Sometimes",
            "status 'Sometimes' is not Active, Subscribe or Unsubscribe",
        ],
    ]


def test_dry_run_flag_is_honoured(join, on_commit):
    client, _ = client_for("import_subscriptions")
    with on_commit():
        response = upload(client, csv_bytes("+15555550001,12345,JOIN,Active,,"), dry_run="true")
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.dry_run, job.status, job.applied) == (True, "done", 1)
    assert not Subscription.objects.exists()


def test_without_the_permission_nothing_is_stored(join):
    client, _ = client_for("change_consent")
    response = upload(client, csv_bytes("+15555550001,12345,JOIN,Active,,"))
    assert response.status_code == 403
    assert "import_subscriptions" in response.json()["detail"]
    assert not ImportJob.objects.exists()
    assert APIClient().get("/api/v1/imports/1/").status_code == 401


def test_missing_file_is_a_400_and_unknown_job_a_404(join):
    client, _ = client_for("import_subscriptions")
    response = client.post("/api/v1/imports/", {"dry_run": "true"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()
    assert client.get("/api/v1/imports/999/").status_code == 404
    assert client.get("/api/v1/imports/999/errors.csv").status_code == 404
    assert not ImportJob.objects.exists()


def test_a_bad_file_ends_as_a_failed_job_not_a_server_error(join, on_commit):
    client, _ = client_for("import_subscriptions")
    with on_commit():
        response = upload(client, b"just some words\n")
    progress = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert progress["status"] == "failed"
    assert progress["failure"].startswith("Missing column(s)")
