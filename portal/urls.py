from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from subscriptions.admin.dashboard import dashboard
from subscriptions.admin.login import throttled_login
from subscriptions.api.exceptions import api_aware_404
from subscriptions.common.health import healthz
from subscriptions.reporting.metrics import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/dashboard/", dashboard, name="admin-dashboard"),
    path("metrics", metrics, name="metrics"),
    path("admin/login/", throttled_login, name="admin-login-throttled"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("subscriptions.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("", include("subscriptions.urls")),
]

handler400 = "subscriptions.api.exceptions.bad_request"
handler404 = api_aware_404
handler500 = "subscriptions.api.exceptions.server_error"
