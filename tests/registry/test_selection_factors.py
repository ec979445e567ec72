"""Selection and risk factors recorded with each injection (issue 15): the one validation at its boundaries, the
service, the API, the web form, the record page and the migration of injections recorded before BMI was required."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from registry import selection
from registry.memberships import membership_grant
from registry.models import Injection
from registry.services import UnconfirmedWarnings, injection_update
from tests.factories import BMAC_PROTOCOL, UserFactory, make_injection
from tests.registry.test_admin import injection_admin_data
from tests.support.migrations import migrated_to, migrated_to_latest

DAY = dt.date(2026, 3, 2)  # the factory's injection date


def check(stored=None, *, day=DAY, age=None, **values):
    """registry.selection.validate on a measured-BMI record with ``values`` changed."""
    record = dict.fromkeys(selection.FIELDS) | {"bmi_status": "measured", "bmi": Decimal("27.5")}
    record["kl_compartments"] = []
    return selection.validate(record | values, day=day, age=age, stored=stored)


def errors_of(**values):
    return check(**values)[0]


def warned(**values):
    return [w.code for w in check(**values)[1]]


# --- The rules, at their boundaries --------------------------------------------------------------------------


def test_a_complete_record_passes():
    assert check(kl_radiograph_on=DAY, kl_compartments=["medial", "patellofemoral"]) == ({}, [])


def test_bmi_is_required_unless_stated_not_measured():
    assert "Give the BMI" in errors_of(bmi=None)["bmi"][0]
    assert errors_of(bmi=None, bmi_status="not_measured") == {}
    assert errors_of(bmi=None, bmi_status="not_measured", bmi_not_measured_reason="No scales") == {}
    assert "choose “Measured”" in errors_of(bmi=Decimal("30"), bmi_status="not_measured")["bmi_status"][0]
    assert errors_of(bmi_not_measured_reason="No scales") == {
        "bmi_not_measured_reason": ["Only when BMI was not measured."]
    }


def test_not_recorded_is_kept_by_old_records_and_never_chosen_for_a_new_one():
    assert "before BMI was required" in errors_of(bmi=None, bmi_status="not_recorded")["bmi_status"][0]
    legacy = {"bmi_status": "not_recorded", "bmi": None}
    assert check(legacy, bmi=None, bmi_status="not_recorded") == ({}, [])
    # A correction of something else leaves it alone; a measured record cannot be turned into one.
    assert check(legacy, bmi=None, bmi_status="not_recorded", smoking="never") == ({}, [])
    assert (
        "bmi_status"
        in check({"bmi_status": "measured", "bmi": Decimal("27.5")}, bmi=None, bmi_status="not_recorded")[0]
    )
    # Giving the BMI later is the way out.
    assert check(legacy, bmi=Decimal("31"), bmi_status="measured") == ({}, [])


def test_radiograph_date_not_after_the_injection_and_confirmed_when_over_12_months_before():
    assert errors_of(kl_radiograph_on=DAY) == {}
    assert (
        "After the injection date (2 Mar 2026)"
        in errors_of(kl_radiograph_on=DAY + dt.timedelta(days=1))["kl_radiograph_on"][0]
    )
    assert warned(kl_radiograph_on=dt.date(2025, 3, 2)) == []  # exactly 12 months
    assert warned(kl_radiograph_on=dt.date(2025, 3, 1)) == ["selection.kl_radiograph_on"]
    # An unchanged date is not asked about again on a correction.
    assert check({"kl_radiograph_on": dt.date(2025, 1, 1)}, kl_radiograph_on=dt.date(2025, 1, 1))[1] == []


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 3, 31), dt.date(2025, 3, 31)),
        (dt.date(2024, 2, 29), dt.date(2023, 2, 28)),
        (dt.date(2026, 12, 31), dt.date(2025, 12, 31)),
    ],
)
def test_twelve_months_before_is_calendar_months(day, expected):
    assert selection.months_before(day, 12) == expected
    assert selection.months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)


def test_effusion_volume_only_with_an_effusion_and_confirmed_above_120_ml():
    assert (
        "Only when an effusion is present" in errors_of(effusion_aspirated_ml=Decimal("10"))["effusion_aspirated_ml"][0]
    )
    assert warned(effusion="present", effusion_aspirated_ml=Decimal("0")) == []  # a dry tap
    assert warned(effusion="present", effusion_aspirated_ml=Decimal("120")) == []
    assert warned(effusion="present", effusion_aspirated_ml=Decimal("120.1")) == ["selection.effusion_aspirated_ml"]


def test_symptom_duration_cannot_exceed_the_patients_life():
    assert errors_of(symptom_duration_months=61 * 12, age=60) == {}
    assert (
        "Longer than the patient's life"
        in errors_of(symptom_duration_months=61 * 12 + 1, age=60)["symptom_duration_months"][0]
    )


def test_immunosuppression_reason_exactly_when_immunosuppressed():
    assert errors_of(immunosuppression="yes")["immunosuppression_reason"] == [
        "Say why the patient is immunosuppressed."
    ]
    assert errors_of(immunosuppression="yes", immunosuppression_reason="biologic") == {}
    assert errors_of(immunosuppression="unknown", immunosuppression_reason="biologic")["immunosuppression_reason"]


def test_compartments_are_known_codes_each_once_and_a_method_needs_an_alignment():
    assert "Unknown compartment(s): medial_tibial" in errors_of(kl_compartments=["medial_tibial"])["kl_compartments"][0]
    assert errors_of(kl_compartments=["medial", "medial"]) == {"kl_compartments": ["Each compartment once."]}
    assert errors_of(kl_compartments="medial") == {"kl_compartments": ["Must be a list of compartments."]}
    assert errors_of(alignment_method="long_leg", alignment="")["alignment_method"]
    assert errors_of(alignment_method="long_leg", alignment="varus") == {}


# --- Through the service and the model's hard limits --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "allowed", "refused"),
    [
        ("effusion_aspirated_ml", Decimal("200"), Decimal("200.1")),
        ("symptom_duration_months", 960, 961),
        ("bmi", Decimal("80"), Decimal("80.1")),
    ],
)
def test_hard_limits_refuse_and_store_nothing(patient, clinician, field, allowed, refused):
    extra = {"effusion": "present"} if field == "effusion_aspirated_ml" else {}
    patient.year_of_birth = 1900  # old enough for 80 years of symptoms
    patient.save()
    with pytest.raises(ValidationError) as refusal:
        make_injection(patient, clinician, **extra, **{field: refused})
    assert field in refusal.value.message_dict
    assert not Injection.objects.exists()
    saved = make_injection(
        patient, clinician, **extra, **{field: allowed}, acknowledged_warnings=["selection." + field]
    )
    assert getattr(saved, field) == allowed


@pytest.mark.django_db
def test_unusual_values_are_saved_once_confirmed_and_the_audit_says_so(patient, clinician):
    unusual = {"effusion": "present", "effusion_aspirated_ml": Decimal("150"), "kl_radiograph_on": dt.date(2024, 6, 1)}
    with pytest.raises(UnconfirmedWarnings) as asked:
        make_injection(patient, clinician, **unusual)
    assert set(asked.value.message_dict) == {"effusion_aspirated_ml", "kl_radiograph_on", "acknowledged_warnings"}
    assert not Injection.objects.exists()
    codes = ["selection.effusion_aspirated_ml", "selection.kl_radiograph_on"]
    injection = make_injection(patient, clinician, **unusual, acknowledged_warnings=codes)
    reason = injection.history.get().history_change_reason
    assert "effusion_aspirated_ml 150" in reason
    assert "kl_radiograph_on" in reason


@pytest.mark.django_db
def test_a_new_injection_without_bmi_is_refused_and_not_measured_is_recorded(patient, clinician):
    with pytest.raises(ValidationError) as refusal:
        make_injection(patient, clinician, bmi=None)
    assert refusal.value.message_dict["bmi"] == ["Give the BMI (kg/m²), or choose “Not measured”."]
    injection = make_injection(
        patient, clinician, bmi=None, bmi_status="not_measured", bmi_not_measured_reason="Wheelchair user"
    )
    assert (injection.bmi_status, injection.bmi) == ("not_measured", None)
    assert ("BMI", "Not measured (Wheelchair user)") in injection.selection_summary()


# --- API: read and write, documented ------------------------------------------------------------------------

FACTORS = {
    "kl_radiograph_on": "2026-02-10",
    "kl_radiograph_view": "rosenberg",
    "kl_compartments": ["medial", "patellofemoral"],
    "alignment_method": "long_leg",
    "symptom_duration_months": 36,
    "effusion": "present",
    "effusion_aspirated_ml": 25.5,
    "diabetes": "type_2",
    "antithrombotic": "anticoagulant",
    "immunosuppression": "yes",
    "immunosuppression_reason": "biologic",
    "malignancy": "past",
    "smoking": "former",
    "widespread_pain": "no",
}


def api_body(patient, **overrides) -> dict:
    body = {
        "patient": patient.pk,
        "knee": "left",
        "injected_on": "2026-03-02",
        "product": "bmac",
        "guidance": "ultrasound",
        "volume_ml": 6,
        "rehabilitation": "home",
        "kl_grade": 2,
        "bmi": 27.5,
        "alignment": "varus",
        "alignment_degrees": 3,
        "protocol": dict(BMAC_PROTOCOL),
        **FACTORS,
    }
    body.update(overrides)
    return body


@pytest.mark.django_db
def test_api_round_trip(api_as, clinician, patient):
    api = api_as(clinician)
    created = api.post("/api/v1/injections/", api_body(patient), format="json")
    assert created.status_code == 201, created.json()
    read = api.get(f"/api/v1/injections/{created.json()['id']}/").json()
    assert {key: read[key] for key in FACTORS} == FACTORS
    assert (read["bmi_status"], read["bmi"], read["bmi_not_measured_reason"]) == ("measured", 27.5, "")

    changed = api.patch(
        f"/api/v1/injections/{read['id']}/",
        {"bmi": None, "bmi_status": "not_measured", "smoking": "current", "reason": "Scales broken that day"},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["bmi_status"], changed.json()["bmi"], changed.json()["smoking"]) == (
        "not_measured",
        None,
        "current",
    )
    assert changed.json()["diabetes"] == "type_2"  # untouched


@pytest.mark.django_db
def test_api_refuses_by_field_and_asks_to_confirm_unusual_values(api_as, clinician, patient):
    api = api_as(clinician)
    refused = api.post("/api/v1/injections/", api_body(patient, bmi=None, diabetes="type_3"), format="json")
    assert refused.status_code == 400
    assert "diabetes" in refused.json()
    refused = api.post("/api/v1/injections/", api_body(patient, bmi=None), format="json")
    assert refused.json() == {"bmi": ["Give the BMI (kg/m²), or choose “Not measured”."]}

    unusual = api_body(patient, effusion_aspirated_ml=130)
    asked = api.post("/api/v1/injections/", unusual, format="json")
    assert asked.status_code == 400
    assert asked.json()["acknowledged_warnings"] == ["selection.effusion_aspirated_ml"]
    assert "above the usual 120 mL" in asked.json()["effusion_aspirated_ml"][0]
    assert not Injection.objects.exists()
    confirmed = api.post(
        "/api/v1/injections/",
        {**unusual, "acknowledged_warnings": asked.json()["acknowledged_warnings"]},
        format="json",
    )
    assert confirmed.status_code == 201
    assert confirmed.json()["effusion_aspirated_ml"] == 130


def test_the_schema_documents_the_factors_with_their_rules():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    fields = schema["components"]["schemas"]["InjectionRequest"]["properties"]
    for name in selection.NEW_FIELDS:
        assert name in fields
    assert "Refused outside 0–200 mL" in fields["effusion_aspirated_ml"]["description"]
    assert "`not_measured`" in fields["bmi_status"]["description"]


# --- Web form and record page -------------------------------------------------------------------------------


def form_data(who, **overrides) -> dict:
    data = {
        "knee": "left",
        "status": "given",
        "injected_on": "2026-03-02",
        "clinician": who.pk,
        "product": "bmac",
        "guidance": "ultrasound",
        "volume_ml": "6",
        "rehabilitation": "home",
        "kl_grade": "2",
        "bmi_status": "measured",
        "bmi": "27.5",
        "planned_injections": "1",
        "number_in_plan": "1",
        "kl_radiograph_on": "2026-01-15",
        "kl_radiograph_view": "standing_ap",
        "kl_compartments": ["medial", "lateral"],
        "symptom_duration_months": "18",
        "diabetes": "unknown",
        "smoking": "current",
    }
    data.update({f"bmac-{key}": str(value) for key, value in BMAC_PROTOCOL.items()})
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_the_form_has_an_accessible_fieldset_with_units(client, clinician, patient):
    client.force_login(clinician)
    text = client.get(reverse("registry:injection-new", args=[patient.registry_number])).text
    assert "<legend>Selection and risk factors</legend>" in text
    assert '<span class="unit" aria-hidden="true">mL</span>' in text
    assert '<span class="unit" aria-hidden="true">months</span>' in text
    assert 'name="kl_compartments" value="patellofemoral"' in text
    assert "Not recorded (before BMI was required)" not in text  # never offered for a new injection
    assert "<legend>BMI</legend>" in text  # required: not marked "(optional)"
    assert 'for="id_bmi">BMI (kg/m²)</label>' in text
    assert '<option value="" selected>Not recorded</option>' in text


@pytest.mark.django_db
def test_the_form_keeps_typed_values_when_it_refuses(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("registry:injection-new", args=[patient.registry_number])
    response = client.post(url, form_data(clinician, bmi="", immunosuppression="yes"))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["bmi"] == ["Give the BMI (kg/m²), or choose “Not measured”."]
    assert form.errors["immunosuppression_reason"] == ["Say why the patient is immunosuppressed."]
    text = response.text
    assert 'value="2026-01-15"' in text
    assert 'value="18"' in text
    assert '<option value="current" selected>' in text
    assert 'name="kl_compartments" value="lateral" id="id_kl_compartments_1" checked' in text
    assert not Injection.objects.exists()

    response = client.post(url, form_data(clinician, bmi="", bmi_status="not_measured"))
    assert response.status_code == 302
    saved = Injection.objects.get()
    assert (saved.bmi_status, saved.kl_compartments, saved.smoking) == (
        "not_measured",
        ["medial", "lateral"],
        "current",
    )


@pytest.mark.django_db
def test_the_form_asks_to_confirm_an_unusual_factor_beside_its_field(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("registry:injection-new", args=[patient.registry_number])
    unusual = form_data(clinician, effusion="present", effusion_aspirated_ml="140")
    response = client.post(url, unusual)
    assert response.status_code == 200
    assert "above the usual 120 mL" in response.context["form"].errors["effusion_aspirated_ml"][0]
    assert [item["code"] for item in response.context["unusual"]] == ["selection.effusion_aspirated_ml"]
    assert response.context["unusual"][0]["value"] == "140 mL"
    response = client.post(url, {**unusual, "acknowledged_warnings": "selection.effusion_aspirated_ml"})
    assert response.status_code == 302
    assert Injection.objects.get().effusion_aspirated_ml == Decimal("140")


@pytest.mark.django_db
def test_the_record_page_lists_the_factors(client, clinician, patient):
    injection = make_injection(
        patient, clinician, diabetes="type_1", effusion="present", effusion_aspirated_ml=Decimal("30"),
        kl_compartments=["medial"], alignment_method="clinical",
    )  # fmt: skip
    client.force_login(clinician)
    text = client.get(reverse("registry:injection-detail", args=[injection.pk])).text
    assert '<h2 id="selection-title">Selection and risk factors</h2>' in text
    assert "<dt>Diabetes</dt><dd>Type 1</dd>" in text
    assert "<dt>Effusion</dt><dd>Effusion present, 30.0 mL aspirated</dd>" in text
    assert "<dt>Alignment</dt><dd>Varus, 3.0°, Clinical (goniometer or visual)</dd>" in text
    assert "<dt>Smoking</dt><dd>Not recorded</dd>" in text


# --- Injections recorded before BMI was required ------------------------------------------------------------

BEFORE = [("registry", "0006_clinic_country")]
AFTER = [("registry", "0008_selection_confounders_data")]


@pytest.mark.django_db(transaction=True)
def test_migration_marks_missing_bmi_not_recorded_and_the_record_still_opens_and_saves(client, patient, clinician):
    with_bmi = make_injection(patient, clinician)
    without = make_injection(patient, clinician, knee="right", bmi=None, bmi_status="not_measured")
    executor = migrated_to(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("registry", "Injection")
    before = list(old.objects.order_by("pk").values())
    assert [row["bmi"] for row in before] == [Decimal("27.5"), None]

    executor = migrated_to(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("registry", "Injection")
    after = list(new.objects.order_by("pk").values())
    assert [row["bmi_status"] for row in after] == ["measured", "not_recorded"]
    assert [{k: row[k] for k in before[0]} for row in after] == before  # nothing else changed
    history = new._meta.apps.get_model("registry", "HistoricalInjection")
    assert set(history.objects.filter(id=without.pk).values_list("bmi_status", flat=True)) == {"not_recorded"}
    migrated_to_latest()

    legacy = Injection.objects.get(pk=without.pk)
    corrected = injection_update(injection=legacy, by=clinician, data={"kl_grade": 3}, reason="Re-read film")
    assert (corrected.kl_grade, corrected.bmi_status) == (3, "not_recorded")
    with pytest.raises(ValidationError):  # a measured record cannot be made "not recorded"
        injection_update(
            injection=Injection.objects.get(pk=with_bmi.pk),
            by=clinician,
            data={"bmi": None, "bmi_status": "not_recorded"},
            reason="Try",
        )

    client.force_login(clinician)
    edit = reverse("registry:injection-edit", args=[legacy.pk])
    page = client.get(edit)
    assert "Not recorded (before BMI was required)" in page.text
    data = {
        name: value
        for name, value in page.context["form"].initial.items()
        if value not in (None, "") and not isinstance(value, list)
    }
    data.update({f"bmac-{key}": str(value) for key, value in legacy.protocol.items()}, reason="Smoking status added")
    data.update(smoking="never")
    response = client.post(edit, data)
    assert response.status_code == 302, response.context["form"].errors
    assert Injection.objects.get(pk=legacy.pk).smoking == "never"


@pytest.mark.django_db
def test_the_admin_asks_to_confirm_an_unusual_factor_beside_its_field(client, clinic, injection):
    user = UserFactory(username="admin_selection")
    membership_grant(user=user, clinic=clinic, role="clinician")
    client.force_login(user)
    url = reverse("admin:registry_injection_change", args=[injection.pk])
    data = injection_admin_data(injection, effusion="present", effusion_aspirated_ml="150", change_reason="Tapped")
    response = client.post(url, data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "above the usual 120 mL" in form.errors["effusion_aspirated_ml"][0]
    assert "protocol" not in form.errors
    injection.refresh_from_db()
    assert injection.effusion_aspirated_ml is None
    response = client.post(url, {**data, "confirm_unusual_values": "on"})
    assert response.status_code == 302
    injection.refresh_from_db()
    assert injection.effusion_aspirated_ml == Decimal("150")
    assert "effusion_aspirated_ml 150" in injection.history.first().history_change_reason
