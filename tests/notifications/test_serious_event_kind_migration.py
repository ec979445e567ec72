"""Serious adverse events have their own message kind; the rows written before it (kind "urgent_flag", dedupe key
"adverse_event:...") are given it by notifications' migration 0006, and flags' rows keep theirs."""

import datetime as dt

import pytest

from tests.factories import ClinicFactory
from tests.support.migrations import migrated_to, migrated_to_latest

BEFORE = [("notifications", "0005_task_heartbeat")]
AFTER = [("notifications", "0006_serious_event_kind")]


@pytest.mark.django_db(transaction=True)
def test_old_serious_event_rows_get_their_own_kind_and_flag_rows_keep_theirs():
    clinic = ClinicFactory()
    executor = migrated_to(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("notifications", "OutboundMessage")
    now = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    for key in ("adverse_event:7:user:3", "flag:9:user:3"):
        old.objects.create(kind="urgent_flag", clinic_id=clinic.pk, dedupe_key=key, scheduled_for=now)

    executor = migrated_to(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("notifications", "OutboundMessage")
    assert dict(new.objects.values_list("dedupe_key", "kind")) == {
        "adverse_event:7:user:3": "serious_event",
        "flag:9:user:3": "urgent_flag",
    }

    executor = migrated_to(BEFORE)  # and back: the old kind (the old constraint would refuse the new one)
    assert dict(old.objects.values_list("dedupe_key", "kind")) == {
        "adverse_event:7:user:3": "urgent_flag",
        "flag:9:user:3": "urgent_flag",
    }
    migrated_to_latest()
