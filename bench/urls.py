"""The portal's URLs plus the benches' baselines, measured in the same run as the product:
- `bench/insert/`: one INSERT and a tiny JSON answer, a plain Django view (bench_inbound.py);
- `bench/insert-drf/`: the same INSERT behind DRF's stock TokenAuthentication,
  IsAuthenticated and JSON parsing: the issue's "one-INSERT DRF endpoint" (bench_inbound.py);
- `bench/bare/`: the floor of bench_api.py, a bare token-authenticated DRF endpoint returning a
  constant (DRF's stock TokenAuthentication, IsAuthenticated, no throttle);
- `bench/constant/`: the cheapest authenticated DRF endpoint, with the same auth, permission
  check and throttle as the API (bench_api.py)."""

import uuid

from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import TokenAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from subscriptions.api.permissions import requires
from subscriptions.models import InboundReceipt, Source


@csrf_exempt
def one_insert(request):
    InboundReceipt.objects.create(source=Source.SYSTEM, external_id=uuid.uuid4().hex)
    return JsonResponse({"ok": True})


class StockDRF(APIView):
    """DRF as it comes: token authentication, IsAuthenticated, JSON, no throttle."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]


class InsertDRF(StockDRF):
    def post(self, request):
        InboundReceipt.objects.create(
            source=Source.SYSTEM, external_id=str(request.data.get("id") or uuid.uuid4().hex)
        )
        return Response({"ok": True})


class Constant(APIView):
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    permission_classes = [requires("subscriptions.view_subscription")]

    def get(self, request):
        return Response({"ok": True})


class Bare(StockDRF):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("bench/bare/", Bare.as_view()),
    path("bench/insert/", one_insert),
    path("bench/insert-drf/", InsertDRF.as_view()),
    path("bench/constant/", Constant.as_view()),
    path("", include("portal.urls")),
]
