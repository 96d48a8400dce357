"""/api/v1/ routes (issue "The integration API"; docs/api.md)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from subscriptions.api import views
from subscriptions.api.configuration import views as configuration
from subscriptions.api.evidence import EvidenceView
from subscriptions.api.imports import ImportDetailView, ImportErrorsView, ImportListView
from subscriptions.api.inbound import InboundView
from subscriptions.api.reconciliation import DriftListView, ReconcileView, ReconciliationView
from subscriptions.api.revocations import RevocationDecideView, RevocationListView
from subscriptions.api.webhooks import WebhookEndpointViewSet

router = SimpleRouter()
router.register("providers", configuration.ProviderAccountViewSet, basename="provider")
router.register("short-codes", configuration.ShortCodeViewSet, basename="short-code")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

keywords = configuration.KeywordViewSet

urlpatterns = [
    path(
        "short-codes/<str:code>/keywords/",
        keywords.as_view({"get": "list", "post": "create"}),
        name="keyword-list",
    ),
    path(
        "short-codes/<str:code>/keywords/<str:word>/",
        keywords.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="keyword-detail",
    ),
    path("contacts/<str:phone>/", views.ContactView.as_view(), name="contact-detail"),
    path("contacts/<str:phone>/evidence/", EvidenceView.as_view(), name="contact-evidence"),
    path("opt-ins/", views.OptInView.as_view(), name="opt-ins"),
    path("opt-outs/", views.OptOutView.as_view(), name="opt-outs"),
    path("sendable/", views.SendableView.as_view(), name="sendable"),
    path("events/", views.EventListView.as_view(), name="events"),
    path("syncs/", views.SyncListView.as_view(), name="syncs"),
    path("outbox/", views.OutboxView.as_view(), name="outbox"),
    path("inbound/", InboundView.as_view(), name="api-inbound"),
    path("imports/", ImportListView.as_view(), name="api-imports"),
    path("imports/<str:pk>/", ImportDetailView.as_view(), name="api-import"),
    path("imports/<str:pk>/errors.csv", ImportErrorsView.as_view(), name="api-import-errors"),
    path("providers/<str:pk>/reconcile/", ReconcileView.as_view(), name="provider-reconcile"),
    path("reconciliations/<str:pk>/", ReconciliationView.as_view(), name="reconciliation"),
    path("reconciliations/<str:pk>/drift/", DriftListView.as_view(), name="reconciliation-drift"),
    path("revocations/", RevocationListView.as_view(), name="api-revocations"),
    path(
        "revocations/<str:pk>/decide/",
        RevocationDecideView.as_view(),
        name="api-revocation-decide",
    ),
    *router.urls,
]
