"""The CIOMS I case report: every field of the form filled from what the registry knows, "unknown" where it does
not, the country from the clinic, and the dose as the product's dose (not the volume)."""

import datetime as dt

import pytest
from django.urls import reverse

from safety.exports.pdf_export import cioms_pdf
from tests.factories import BMAC_PROTOCOL, EXOSOME_PROTOCOL, GOVERNANCE, PRP_PROTOCOL, make_injection
from tests.safety.ae_support import record_serious
from tests.safety.test_exports import pdf_text

pytestmark = pytest.mark.django_db

# Every box of the CIOMS I form, in its order.
CIOMS_FIELDS = (
    "1. Patient initials",
    "1a. Country",
    "2. Date of birth",
    "2a. Age",
    "3. Sex",
    "4–6. Reaction onset",
    "7 + 13. Describe reaction",
    "8–12. Check all appropriate",
    "14. Suspect drug(s)",
    "15. Daily dose(s)",
    "16. Route(s) of administration",
    "17. Indication(s) for use",
    "18. Therapy dates",
    "19. Therapy duration",
    "20. Did reaction abate after stopping drug?",
    "21. Did reaction reappear after reintroduction?",
    "22. Concomitant drug(s)",
    "23. Other relevant history",
    "24a. Name and address of manufacturer",
    "24b. Original report no.",
    "24c. MAH control no.",
    "24d. Date received",
    "24d. Report source",
    "25a. Date of this report",
    "25b. Report type",
    "26. Reporter",
)


def report(event) -> str:
    return pdf_text(cioms_pdf(event))


@pytest.fixture
def gb_clinic(clinic):
    clinic.country = "GB"
    clinic.save()
    return clinic


def test_every_field_is_there_and_filled(gb_clinic, clinician, injection):
    text = report(record_serious(clinician, injection))
    at = [text.index(label) for label in CIOMS_FIELDS]
    assert at == sorted(at)  # in the form's order
    assert "—" not in text  # nothing left blank


def test_country_comes_from_the_clinic(gb_clinic, clinician, injection):
    text = report(record_serious(clinician, injection))
    assert "1a. Country United Kingdom" in text


def test_a_clinic_without_a_country_says_unknown(clinic, clinician, injection):
    assert "1a. Country unknown" in report(record_serious(clinician, injection))


def test_bmac_dose_is_the_cells_given_not_just_the_volume(gb_clinic, clinician, injection):
    text = report(record_serious(clinician, injection))
    # 6 mL of concentrate at 35.5 x10^6 nucleated cells/mL, once.
    assert "15. Daily dose(s) 6 mL of concentrate: TNC 35.5 ×10⁶/mL, about 213 ×10⁶ nucleated cells, once" in text
    assert "Autologous bone marrow aspirate concentrate" in text
    assert "not applicable: autologous" in text  # no batch


def test_steroid_dose_and_its_local_anaesthetic(gb_clinic, clinician, patient):
    injection = make_injection(
        patient,
        clinician,
        product="corticosteroid",
        volume_ml=2,
        protocol={"drug": "triamcinolone_acetonide", "dose_mg": 40, "local_anaesthetic": "Lidocaine 1% 2 mL"},
    )
    text = report(record_serious(clinician, injection))
    assert "15. Daily dose(s) 40 mg in 2 mL, once" in text
    assert "14. Suspect drug(s) (generic name, batch) Triamcinolone acetonide; batch unknown" in text
    assert "batch unknown" in text
    assert "Lidocaine 1% 2 mL, mixed into the injection on 2 Mar 2026" in text
    assert "24a. Name and address of manufacturer unknown" in text


def test_exosome_batch_manufacturer_and_study(gb_clinic, clinician, patient):
    injection = make_injection(
        patient, clinician, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=dict(GOVERNANCE)
    )
    text = report(record_serious(clinician, injection))
    assert "batch EV-2026-001" in text
    assert "2 × 10¹⁰ particles in 6 mL, once" in text
    assert "24a. Name and address of manufacturer Example Bio Ltd" in text
    assert "[X] Study" in text
    assert "NCT01234567" in text


def test_route_indication_history_and_reporter(gb_clinic, clinician, injection):
    text = report(record_serious(clinician, injection))
    assert "16. Route(s) of administration Intra-articular, left knee, ultrasound-guided" in text
    assert "17. Indication(s) for use Knee osteoarthritis, left knee, Kellgren-Lawrence grade 2" in text
    assert "18. Therapy dates 2 Mar 2026" in text
    assert "BMI 27.5" in text
    assert "varus 3°" in text
    assert "[X] Health professional" in text
    assert "[ ] Study" in text
    assert gb_clinic.name in text
    assert "21. Did reaction reappear after reintroduction? NA: not given again after the reaction" in text
    assert "Other medicines: unknown" in text


def test_a_reinjection_after_the_reaction_is_not_claimed_either_way(gb_clinic, clinician, patient, injection):
    event = record_serious(clinician, injection)
    make_injection(patient, clinician, knee="right", injected_on=dt.date(2026, 3, 20))
    text = report(event)
    assert "21. Did reaction reappear after reintroduction? Unknown: given again on 20 Mar 2026" in text


def test_the_page_serves_it(client, gb_clinic, clinician, injection):
    event = record_serious(clinician, injection)
    client.force_login(clinician)
    response = client.get(reverse("safety:event-cioms", args=[event.pk]))
    assert response.status_code == 200
    assert "United Kingdom" in pdf_text(response.content)


def test_a_combined_injection_names_dose_and_route_of_each_product(gb_clinic, clinician, patient):
    injection = make_injection(
        patient,
        clinician,
        components=[
            {"product": "bmac", "volume_ml": 6, "protocol": dict(BMAC_PROTOCOL)},
            {"product": "prp", "volume_ml": 4, "protocol": dict(PRP_PROTOCOL)},
            {"product": "bmac", "route": "intraosseous_tibial", "volume_ml": 2, "protocol": dict(BMAC_PROTOCOL)},
        ],
    )
    text = " ".join(report(record_serious(clinician, injection)).split())
    assert "Autologous bone marrow aspirate concentrate" in text
    assert "platelet-rich plasma" in text.lower()
    # 4 mL at 1,200 x10^3/uL: 4.8 x10^9 platelets, beside the concentrate's cells.
    assert "4 mL of PRP: platelets 1,200 ×10³/µL, about 4.8 ×10⁹ platelets, once" in text
    assert "BMAC intra-articular; PRP intra-articular; BMAC intraosseous (tibial), left knee" in text
