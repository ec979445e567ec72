"""Issue 15's safety migrations change vocabularies only: events and flags recorded before them survive unchanged,
and the new categories are accepted after them."""

import pytest

from safety.models import AdverseEvent
from tests.safety.ae_support import SERIOUS, record
from tests.support.migrations import migrated_to, migrated_to_latest

BEFORE = [("safety", "0007_adverse_event_queues_plan_outcome")]
AFTER = [("safety", "0009_adverse_event_categories_issue_15")]
NEW_CATEGORIES = [
    "cellulitis",
    "crystal_flare",
    "fat_atrophy",
    "osteomyelitis",
    "subchondral_bone",
    "dvt_pe",
    "sedation_event",
    "allogeneic_reaction",
]


def _rows(model):
    return list(model.objects.order_by("pk").values())


def _project(rows, model):
    """``rows`` reduced to the columns ``model`` (an earlier state) has: later migrations add columns."""
    names = {f.attname for f in model._meta.concrete_fields}
    return [{k: v for k, v in row.items() if k in names} for row in rows]


@pytest.mark.django_db(transaction=True)
def test_existing_events_survive_the_new_categories_unchanged(clinician, injection):
    record(clinician, injection)
    record(clinician, injection, **SERIOUS)
    before = _rows(AdverseEvent)

    executor = migrated_to(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("safety", "AdverseEvent")
    assert _rows(old) == _project(before, old)

    executor = migrated_to(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("safety", "AdverseEvent")
    assert _rows(new) == _project(before, new)
    migrated_to_latest()


@pytest.mark.parametrize("category", NEW_CATEGORIES)
@pytest.mark.django_db
def test_each_new_category_is_recorded(clinician, injection, category):
    event = record(clinician, injection, category=category)
    event.refresh_from_db()
    assert event.category == category
    assert event.get_category_display() != category


@pytest.mark.django_db(transaction=True)
def test_existing_flags_survive_the_new_flag_rules_unchanged(journey):
    from safety.models import Flag
    from safety.services import flags_evaluate

    j = journey()
    j.baseline()
    flags_evaluate(j.one_month(**{"SAFETY.swelling": "yes", "SAFETY.fever": "yes"}).pk)
    before = _rows(Flag)
    assert len(before) == 2

    executor = migrated_to(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("safety", "Flag")
    assert _rows(old) == before
    executor = migrated_to(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("safety", "Flag")
    assert _rows(new) == before
    migrated_to_latest()
