import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_member_signs_in_to_the_admin(live_server, page, artifacts_dir):
    UserFactory(username="staff", is_staff=True, is_superuser=True)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.locator("#site-name").inner_text() == "Django administration"
    page.screenshot(path=artifacts_dir / "admin-index.png")
