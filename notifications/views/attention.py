"""The landing page: what needs a clinician's attention today, across the apps, scoped to their clinics.

It lives in notifications because this is the one app allowed to read all the others (imports point down)."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from notifications.models import MessageStatus
from notifications.selectors import messages_for, missed_for
from registry.scoping import patients_for
from safety.choices import ACTIVE_STATUSES
from safety.selectors import events_for, flags_for, susar_clocks_for

SHOWN = 20


@login_required
@require_safe
def attention(request):
    user = request.user
    week_ago = timezone.now() - dt.timedelta(days=7)
    active = flags_for(user).filter(status__in=ACTIVE_STATUSES).select_related("patient", "follow_up__plan")
    flags = active.safety().order_by("-urgent", "raised_at", "id")
    # Scores worse than baseline: an efficacy signal for the clinician, listed apart, never as a safety flag.
    worsening = active.worsening_signals().order_by("-urgent", "raised_at", "id")
    events = (
        events_for(user)
        .filter(is_serious=True, assessed_at__isnull=True)
        .select_related("patient", "index_injection")
        .prefetch_related("index_injection__components")  # the staff label names every product ("BMAC + PRP")
        .order_by("onset_on", "id")
    )
    # Serious, unexpected, at least possibly related, after a study product, and not yet reported (ICH E2A clocks).
    susar = susar_clocks_for(user)
    # A window whose last day was 7 or fewer days ago closed this week.
    missed = missed_for(user, closed_since=timezone.localdate() - dt.timedelta(days=7))
    failed = (
        messages_for(user)
        .filter(status=MessageStatus.FAILED, updated_at__gte=week_ago)
        .select_related("patient", "follow_up__plan")
        .order_by("-updated_at", "-id")
    )
    withdrew = (
        patients_for(user)
        .filter(Q(consent_withdrawn_at__gte=week_ago) | Q(email_opted_out_at__gte=week_ago))
        .order_by("-updated_at")
    )
    sections = [
        ("flags", "Safety flags to review", flags),
        ("worsening", "Worsening signals to review (scores worse than baseline: efficacy, not safety)", worsening),
        ("events", "Serious adverse events awaiting assessment", events),
        ("susar", "SUSAR candidates: expedited report due", susar),
        ("missed", "Follow-ups missed this week", missed),
        ("failed", "Emails rejected this week", failed),
        ("withdrew", "Patients who withdrew or stopped emails this week", withdrew),
    ]
    context = {
        "sections": [
            {"key": key, "title": title, "count": qs.count(), "rows": list(qs[:SHOWN])} for key, title, qs in sections
        ],
        "shown": SHOWN,
    }
    today = timezone.localdate()
    for section in context["sections"]:
        if section["key"] == "susar":
            for event in section["rows"]:
                event.days_left = (event.susar_due_on - today).days  # 0 on the last day, negative once overdue
                event.days_overdue = max(0, -event.days_left)
    return render(request, "notifications/attention.html", context)
