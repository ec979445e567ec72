"""Issue 15: injections became components (registry 0007 schema, 0008 data). Every injection, adverse event and
questionnaire score recorded before survives unchanged, and each injection is exactly one component equal to it.

Built on the pre-migration database state with django-test-migrations (other apps at their latest migrations)."""

import datetime as dt
from decimal import Decimal

import pytest

from outcomes.sqlite_triggers import triggers_drop

# Reached by migrating the fully migrated test database back (the other apps stay at their latest migrations;
# apply_initial_migration's plan would stop them before registry 0007, as the full plan orders them).
BEFORE = ("registry", "0007_injection_components")
AFTER = ("registry", "0008_injection_components_data")

BMAC = {"harvest_site": "posterior_iliac_crest", "aspirate_volume_ml": 60, "tnc_per_ml": 45.5, "spins": 1}
PRP = {"preparation_system": "Kit X", "platelet_count": 1200, "leukocytes": "poor"}
SCORES = {"KOOS": {"pain": 55.6, "adl": 61.8}, "VAS": {"pain": 42}}


@pytest.fixture
def migrator(migrator):
    # django-test-migrations mutes pre_migrate, which sets SQLite's plan-outcome triggers aside for a migrate
    # (outcomes.sqlite_triggers); its reset() migrates with signals on, which puts them back.
    triggers_drop()
    return migrator


def _build_old_registry(apps) -> dict:
    """Two patients, three injections (one staged plan), an adverse event and a scored submission."""
    User = apps.get_model("auth", "User")
    Clinic = apps.get_model("registry", "Clinic")
    Patient = apps.get_model("registry", "Patient")
    Plan = apps.get_model("registry", "TreatmentPlan")
    Injection = apps.get_model("registry", "Injection")
    FollowUp = apps.get_model("outcomes", "FollowUp")
    Submission = apps.get_model("outcomes", "Submission")
    AdverseEvent = apps.get_model("safety", "AdverseEvent")

    user = User.objects.create(username="dr-old")
    clinic = Clinic.objects.create(name="Old clinic")
    patients = [
        Patient.objects.create(
            clinic=clinic, registry_number=f"KR-OLD-{n}", year_of_birth=1960, consent_on=dt.date(2025, 1, 1)
        )
        for n in (1, 2)
    ]
    common = {
        "clinician": user,
        "created_by": user,
        "guidance": "ultrasound",
        "rehabilitation": "home",
        "kl_grade": 2,
        "age_at_injection": 65,
        "status": "given",
    }
    bmac_plan = Plan.objects.create(patient=patients[0], knee="left", product="bmac")
    prp_plan = Plan.objects.create(patient=patients[1], knee="right", product="prp", planned_injections=2)
    injections = [
        Injection.objects.create(
            patient=patients[0], plan=bmac_plan, knee="left", product="bmac", injected_on=dt.date(2025, 3, 1),
            volume_ml=Decimal("6.0"), protocol=BMAC, **common,
        ),
        *(
            Injection.objects.create(
                patient=patients[1], plan=prp_plan, number_in_plan=n, knee="right", product="prp",
                injected_on=dt.date(2025, 3, n * 7), volume_ml=Decimal("4.5"), protocol=PRP, bmi=Decimal("27.3"),
                **common,
            )
            for n in (1, 2)
        ),
    ]  # fmt: skip
    follow_up = FollowUp.objects.create(
        plan=bmac_plan,
        patient=patients[0],
        clinic=clinic,
        timepoint="1m",
        opens_on=dt.date(2025, 3, 25),
        due_on=dt.date(2025, 4, 1),
        closes_on=dt.date(2025, 4, 20),
        status="completed",
    )
    Submission.objects.create(
        follow_up=follow_up,
        clinic=clinic,
        timepoint="1m",
        submitted_at=dt.datetime(2025, 4, 2, 9, 0, tzinfo=dt.UTC),
        source="patient_link",
        answers={"KOOS": {"P1": {"score": 2}}},
        instrument_versions={"KOOS": "2012"},
        scores=SCORES,
        koos_pain=55.6,
        vas_pain=42,
    )
    # The safety app stays at its latest state: fill the causality fields it has then (issue 15's split).
    split = {f.name for f in AdverseEvent._meta.fields} & {"causality_product", "causality_procedure"}
    AdverseEvent.objects.create(
        **dict.fromkeys(split, "probable"),
        clinic=clinic,
        patient=patients[0],
        index_injection=injections[0],
        source="clinician",
        onset_on=dt.date(2025, 3, 3),
        category="post_injection_flare",
        description="Swollen knee for two days",
        severity=1,
        causality="probable",
        relatedness="injection",
        expectedness="expected",
        action_taken="conservative",
        outcome="recovered",
        recorded_by=user,
    )
    return {"injections": [i.pk for i in injections]}


def _snapshot(apps) -> dict:
    """Every stored value of the records the migration must not touch."""
    return {
        name: sorted(apps.get_model(*name.split(".")).objects.values_list(), key=lambda row: row[0])
        for name in (
            "registry.Injection",
            "registry.HistoricalInjection",
            "registry.TreatmentPlan",
            "registry.Patient",
            "outcomes.Submission",
            "outcomes.FollowUp",
            "safety.AdverseEvent",
        )
    }


def test_every_injection_becomes_one_equal_component_and_nothing_else_changes(migrator):
    old = migrator.apply_tested_migration(BEFORE)
    built = _build_old_registry(old.apps)
    before = _snapshot(old.apps)

    new = migrator.apply_tested_migration(AFTER)

    assert _snapshot(new.apps) == before
    Injection = new.apps.get_model("registry", "Injection")
    Component = new.apps.get_model("registry", "InjectionComponent")
    assert Component.objects.count() == len(built["injections"])
    for injection in Injection.objects.all():
        (component,) = Component.objects.filter(injection=injection)
        assert (component.position, component.route, component.site) == (1, "intra_articular", "")
        assert (component.product, component.protocol, component.volume_ml) == (
            injection.product,
            injection.protocol,
            injection.volume_ml,
        )
    # The scores a paper reads are the numbers stored before, to the digit.
    submission = new.apps.get_model("outcomes", "Submission").objects.get()
    assert (submission.scores, submission.koos_pain, submission.vas_pain) == (SCORES, 55.6, 42)
    # Each component has its audit row, dated when its injection was recorded and by whom.
    history = new.apps.get_model("registry", "HistoricalInjectionComponent")
    for injection in Injection.objects.all():
        row = history.objects.get(injection_id=injection.pk)
        assert (row.history_type, row.history_date, row.history_user_id) == (
            "+",
            injection.created_at,
            injection.created_by_id,
        )


def test_migration_is_reversible_while_no_injection_combines_products(migrator):
    old = migrator.apply_tested_migration(BEFORE)
    _build_old_registry(old.apps)
    before = _snapshot(old.apps)
    migrator.apply_tested_migration(AFTER)

    back = migrator.apply_tested_migration(BEFORE)

    assert _snapshot(back.apps) == before
    assert back.apps.get_model("registry", "InjectionComponent").objects.count() == 0


def test_reversing_refuses_to_lose_a_second_product(migrator):
    old = migrator.apply_tested_migration(BEFORE)
    built = _build_old_registry(old.apps)
    new = migrator.apply_tested_migration(AFTER)
    new.apps.get_model("registry", "InjectionComponent").objects.create(
        injection_id=built["injections"][0], position=2, product="prp", volume_ml=Decimal("3"), protocol=PRP
    )

    with pytest.raises(RuntimeError, match="1 injection\\(s\\) combine products"):
        migrator.apply_tested_migration(BEFORE)
    assert new.apps.get_model("registry", "InjectionComponent").objects.filter(position=2).count() == 1
