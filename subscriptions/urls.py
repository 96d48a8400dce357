"""Browser-facing routes of the app: the preferences page and provider webhooks."""

from django.urls import include, path

from subscriptions import views, webhooks

urlpatterns = [
    path("webhooks/skycore/<str:token>/", webhooks.skycore_postback, name="skycore-postback"),
    path("preferences/", views.preferences_page, name="preferences"),
    path("preferences/code/", views.enter_code, name="preferences-code"),
    path("preferences/programs/", views.switch_program, name="preferences-switch"),
    path("preferences/stop/", views.stop_all, name="preferences-stop"),
    path("preferences/sign-out/", views.sign_out, name="preferences-sign-out"),
    path("preferences/link/<str:signed>/", views.signed_link, name="preferences-link"),
    path("i18n/", include("django.conf.urls.i18n")),
]
