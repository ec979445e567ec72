"""What an operator sees: /metrics for Prometheus, /health/ for the load balancer and compose, and the ops page
where an administrator finds stuck, failing and retrying emails and requeues a failed one."""

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Min
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from notifications import conf
from notifications.health import health as health_checks
from notifications.metrics import metrics_text, reason_of
from notifications.metrics import stuck as stuck_messages
from notifications.models import (
    UNDELIVERED_STATES,
    Channel,
    DeliveryState,
    MessageKind,
    MessageStatus,
    OutboundMessage,
)
from notifications.services import message_requeue
from registry.scoping import is_administrator

ROWS_SHOWN = 50
# The classic text format every Prometheus reads (our names need none of format 1.0.0's escaping).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _bearer(request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@never_cache
@require_safe
def metrics(request):
    """Prometheus text. With METRICS_TOKEN set, only a request bearing it (compared in constant time); without
    one, open under DEBUG (the demo) and not there at all (404) otherwise, so production never exposes it by
    accident. No label carries patient data (notifications/metrics.py)."""
    token = settings.METRICS_TOKEN
    if token:
        if not hmac.compare_digest(_bearer(request).encode(), token.encode()):
            response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not settings.DEBUG:
        raise Http404
    return HttpResponse(metrics_text(), content_type=METRICS_CONTENT_TYPE)


@never_cache
@require_safe
def health(request):
    """Is this web process able to work: the database and the broker answer. No sign-in, no data; 503 if not."""
    checks = health_checks()
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def _administrators_only(request) -> None:
    if not is_administrator(request.user):
        raise PermissionDenied("The operations page is for administrators.")


def _ops_context(now) -> dict:
    counts = {
        row["status"]: row["n"] for row in OutboundMessage.objects.order_by().values("status").annotate(n=Count("id"))
    }
    base = OutboundMessage.objects.select_related("clinic").only(
        "id",
        "kind",
        "channel",
        "status",
        "attempts",
        "last_error",
        "scheduled_for",
        "claimed_at",
        "updated_at",
        "delivery",
        "delivery_reason",
        "delivery_updated_at",
        "clinic__name",
    )
    stuck = list(base.filter(stuck_messages(now)).order_by("claimed_at")[:ROWS_SHOWN])
    failed = list(base.filter(status=MessageStatus.FAILED).order_by("-updated_at", "-id")[:ROWS_SHOWN])
    retrying = list(
        base.filter(status=MessageStatus.PENDING, attempts__gt=0).order_by("scheduled_for", "id")[:ROWS_SHOWN]
    )
    # Taken by the provider, then reported as not delivered (or reported as spam): its receipts said so.
    not_arrived = list(
        base.filter(delivery__in=[*UNDELIVERED_STATES, DeliveryState.COMPLAINED]).order_by(
            "-delivery_updated_at", "-id"
        )[:ROWS_SHOWN]
    )
    # Patient messages waiting for the next day because their clinic reached its daily limit on that channel.
    held = list(
        OutboundMessage.objects.filter(status=MessageStatus.PENDING)
        .exclude(held_reason="")
        .order_by("clinic__name", "channel")
        .values("clinic__name", "channel")
        .annotate(n=Count("id"), next_at=Min("scheduled_for"))
    )
    for row in held:
        row["channel_label"] = Channel(row["channel"]).label
    for message in failed + retrying:
        message.reason = reason_of(message.last_error).replace("_", " ")
    return {
        "states": [(label, counts.get(value, 0)) for value, label in MessageStatus.choices],
        "stuck": stuck,
        "failed": failed,
        "retrying": retrying,
        "not_arrived": not_arrived,
        "held": held,
        "lease_seconds": int(conf.get().claim_lease.total_seconds()),
        "rows_shown": ROWS_SHOWN,
        "kinds": dict(MessageKind.choices),
    }


@login_required
@require_safe
def ops_page(request):
    _administrators_only(request)
    return render(request, "notifications/ops.html", _ops_context(timezone.now()))


@login_required
@require_POST
def ops_message_requeue(request, pk: int):
    _administrators_only(request)
    message = get_object_or_404(OutboundMessage, pk=pk)
    try:
        message_requeue(message_id=message.pk, by=request.user, reason=request.POST.get("reason", ""), request=request)
    except ValidationError as error:
        # Nothing changed: the page again, with the reason beside the message it concerns.
        status = 409 if error.code == "not_failed" else 400
        context = {**_ops_context(timezone.now()), "error": error.messages[0], "error_message_id": message.pk}
        return render(request, "notifications/ops.html", context, status=status)
    messages.success(request, f"Message #{message.pk} is queued again and will be sent at the next sweep.")
    return redirect("notifications:ops")
