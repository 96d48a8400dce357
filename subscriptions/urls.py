"""Browser-facing routes of the app: the preferences page and provider views."""

from django.urls import include, path
from django.views.generic import RedirectView

from subscriptions.preferences import views as preference_views
from subscriptions.providers.skycore import views as skycore_views

urlpatterns = [
    path("webhooks/skycore/<str:token>/", skycore_views.skycore_postback, name="skycore-postback"),
    path("preferences/", preference_views.preferences_page, name="preferences"),
    path("preferences/brand.css", preference_views.brand_css, name="preferences-brand-css"),
    path("preferences/code/", preference_views.enter_code, name="preferences-code"),
    path("preferences/programs/", preference_views.switch_program, name="preferences-switch"),
    path("preferences/stop/", preference_views.stop_all, name="preferences-stop"),
    path("preferences/sign-out/", preference_views.sign_out, name="preferences-sign-out"),
    path("preferences/link/<str:signed>/", preference_views.signed_link, name="preferences-link"),
    path("i18n/setlang/", preference_views.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    # The site's front door (and the admin's "View site") is the preferences page.
    path("", RedirectView.as_view(pattern_name="preferences"), name="home"),
]
