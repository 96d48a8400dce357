"""The preferences page as a brand ships it: logo, colour and links per short code, CTIA's
frequency line, the number as people write it, notices beside the control used, an honest
pending state, the language saved to the contact, and `/` leading to the page."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from subscriptions.consent import selectors, services
from subscriptions.consent.services import Context
from subscriptions.models import Contact
from subscriptions.preferences import links, service
from tests.factories import KeywordFactory, ShortCodeFactory

pytestmark = pytest.mark.django_db

PHONE = "+15555550101"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def brand():
    return ShortCodeFactory(
        code="12345",
        brand="Acme",
        logo_url="https://cdn.example.com/acme.png",
        brand_color="#0b5cad",
        terms_url="https://acme.example.com/sms-terms",
        privacy_url="https://acme.example.com/privacy",
        support_url="https://acme.example.com/help",
    )


@pytest.fixture
def deals(brand):
    keyword = KeywordFactory(
        short_code=brand, word="DEALS", title="Weekly deals", frequency="Up to 4 msgs/month"
    )
    services.opt_in(PHONE, keyword, Context(source="mo"))
    return keyword


@pytest.fixture
def vip(brand):
    return KeywordFactory(short_code=brand, word="VIP", title="VIP club", double_opt_in=True)


def signed_in(phone=PHONE):
    client = Client()
    assert client.get(links.preferences_link_path(phone)).status_code == 302
    return client


def test_branding_is_validated_in_the_model(brand):
    brand.full_clean()
    brand.logo_url, brand.brand_color = "http://cdn.example.com/x.png", "blue"
    with pytest.raises(ValidationError) as error:
        brand.full_clean()
    assert set(error.value.message_dict) == {"logo_url", "brand_color"}


def test_brand_colour_picks_readable_text():
    assert ShortCodeFactory.build(brand_color="#ffde59").brand_colors == ("#ffde59", "#000000")
    assert ShortCodeFactory.build(brand_color="#0b5cad").brand_colors == ("#0b5cad", "#ffffff")
    assert ShortCodeFactory.build(brand_color="red;}x{").brand_colors is None


def test_the_page_shows_logo_links_and_colour_per_code(deals, brand):
    page = signed_in().get("/preferences/").content.decode()
    assert 'src="https://cdn.example.com/acme.png"' in page
    for link in ("sms-terms", "privacy", "help"):
        assert f"https://acme.example.com/{link}" in page
    assert "Signed in as (555) 555-0101." in page
    css = Client().get("/preferences/brand.css")
    assert css["Content-Type"].startswith("text/css")
    assert f"#code-{brand.pk} {{ --brand: #0b5cad; --brand-ink: #ffffff; }}" in css.content.decode()


def test_every_opt_in_wording_has_the_ctia_elements(deals, vip):
    wording = service.join_wording(vip, PHONE)
    for part in (
        "Acme (VIP club)",
        "Message frequency varies.",
        "Msg & data rates may apply.",
        "Reply HELP for help, STOP to cancel.",
        "Terms: https://acme.example.com/sms-terms",
        "Privacy: https://acme.example.com/privacy",
        "(555) 555-0101",
    ):
        assert part in wording
    assert "Message frequency: Up to 4 msgs/month." in service.join_wording(deals, PHONE)


def test_a_change_is_confirmed_beside_its_control_and_pending_is_not_on(deals, vip):
    client = signed_in()
    response = client.post("/preferences/programs/", {"keyword": vip.pk, "join": "1"})
    assert response["Location"] == f"/preferences/#program-{vip.pk}"
    page = client.get(response["Location"]).content.decode()
    row = page[page.index(f'id="program-{vip.pk}"') :]
    row = row[: row.index("</li>")]
    assert "we are waiting for your reply" in row and "data-focus-on-load" in row
    assert "(555) 555-0101" in row
    assert '<span class="switch-label" aria-hidden="true">Pending</span>' in row
    assert page.count('class="notices') == 1  # not repeated at the top


def test_choosing_a_language_while_signed_in_saves_it_to_the_contact(deals):
    client = signed_in()
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/preferences/"})
    assert response.status_code == 302
    assert Contact.objects.get(phone=PHONE).locale == "es"
    Client().post("/i18n/setlang/", {"language": "en", "next": "/"})  # not signed in
    assert selectors.contact_by_phone(PHONE).locale == "es"


def test_the_front_door_leads_to_the_preferences_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/preferences/"
