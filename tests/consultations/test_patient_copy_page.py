"""What the patient's copy says (issue 16, IPDAS): the decision, the choices talked about, knees like theirs with the
reference group, period, denominators and ranges, harms beside benefits, the course without an injection, the
fallback plan, the clinic's references, the date and update policy, whom to contact; nothing about anyone else; the
small-number rule still applied; the PDF says the same; the page costs a fixed number of queries; reading grade 8
or lower by the Flesch-Kincaid formula on the rendered text."""

import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest
import textstat
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from consultations import services
from consultations.models import DecisionAidText
from consultations.patient_copy import DEFAULT_WITHOUT_INJECTION
from outcomes.analysis import plan_outcomes
from registry.models import Patient
from tests.consultations.factories import advise_against, make_consultation
from tests.outcomes.analysis_data import bulk_pairs

BEFORE = {"pain": 40.0, "adl": 40.0, "pga": 60.0, "oks": 20.0}
BETTER = {"pain": 60.0, "adl": 60.0, "pga": 30.0, "oks": 30.0}
WORSE = {"pain": 35.0, "adl": 40.0, "pga": 60.0, "oks": 18.0}
NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)  # the bulk plans' 6-month follow-ups (March 2026) are long due
MAX_GRADE = 8


class _Text(HTMLParser):
    """The text a reader sees in <main>: no tags, scripts or styles; blocks marked data-readability="skip" (the
    clinic's citations) left out when asked."""

    def __init__(self, *, skip_citations: bool):
        super().__init__()
        self.skip_citations = skip_citations
        self.parts: list[str] = []
        self.depth_main = 0
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.depth_main += 1
        if self.skipping or (self.skip_citations and attrs.get("data-readability") == "skip"):
            self.skipping += 1
        if tag in ("p", "li", "h1", "h2", "h3", "div", "section"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if self.skipping:
            self.skipping -= 1
        if tag == "main":
            self.depth_main -= 1

    def handle_data(self, data):
        if self.depth_main and not self.skipping:
            self.parts.append(data.replace("\n", " "))  # a template's line break is not a sentence's end


def page_text(html: str, *, skip_citations: bool = False) -> str:
    parser = _Text(skip_citations=skip_citations)
    parser.feed(html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    # A heading or list item is a sentence of its own for the formula.
    return "\n".join(line if line.endswith((".", "?", "!", ":")) else f"{line}." for line in lines if line)


@pytest.fixture
def treated_knees(clinic, clinician):
    """14 BMAC knees, KL 2, aged 66 (the factory consultation's band): 9 improved, 3 worse, 2 never answered;
    and 12 PRP knees, 8 improved, 4 worse."""
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 9 + [(BEFORE, WORSE)] * 3 + [(BEFORE, None)] * 2, timepoint="6m")
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 8 + [(BEFORE, WORSE)] * 4, timepoint="6m", product="prp")
    plan_outcomes.refresh()


def open_copy(client, consultation, by) -> tuple[str, str]:
    token = services.patient_copy_issue(consultation=consultation, by=by).token
    response = client.get(reverse("patient-copy:page", args=[token]))
    assert response.status_code == 200
    return token, response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_copy_says_what_was_decided_and_what_knees_like_theirs_did(
    client, clinic, clinician, patient, treated_knees
):
    clinic.phone = "020 7946 0000"
    clinic.contact_email = "knees@north.example"
    clinic.save()
    consultation = make_consultation(patient, clinician)  # BMAC; PRP, HA, exercise, weight, no treatment discussed
    _, html = open_copy(client, consultation, clinician)
    text = page_text(html)
    assert "Your left knee: what we talked about" in text
    assert "Your visit on 20 February 2026" in text
    assert "We agreed to go ahead with an injection of bone marrow cells (BMAC) into your left knee." in text
    for choice in ("Exercise with help from a physio", "Losing weight", "A platelet-rich plasma (PRP) injection"):
        assert choice in text
    # The reference group, the timepoint, the same rules for each option, the denominators and the period.
    assert "We looked at knees treated at North Knee Clinic that, like yours, had early arthritis on the X-ray" in text
    assert "aged 60 to 69" in text
    # 2 of the 14 BMAC knees were not heard back: fewer than 10, so the number due is a range (the engine's rule).
    bmac_heard = "Of 13 to 21 knees like yours treated with bone marrow cells (BMAC), we heard back from 12 at 6 months"
    assert bmac_heard in text
    assert "Of 12 knees like yours treated with platelet-rich plasma (PRP), we heard back from 12 at 6 months." in text
    assert "likely between" in text  # uncertainty in words
    assert "These knees were treated at 1 clinic" in text
    # HA was discussed but no knee in this clinic had it: said so, with no number.
    assert "Not enough data in this registry for hyaluronic acid (HA) at 6 months." in text
    # Benefits and harms in the same detail: each option has its side-effect lines beside the benefit lines.
    bmac = html.split('data-product="bmac"', 1)[1].split("</ul>", 1)[0]
    assert "clearly less pain" in bmac
    assert "side effect" in bmac or "Side effects are not recorded" in bmac
    # The fallback plan in words.
    assert "about 6 months after the injection" in text
    assert "your pain score and your knee score have not clearly got better" in text
    assert "exercise with help from a physio or a visit to a knee surgeon to talk about an operation" in text
    # The course without an injection (the default until the clinic writes its own), the date and update policy.
    assert DEFAULT_WITHOUT_INJECTION.split(". ")[0] in text
    assert "We worked out these numbers on 1 June 2027." in text
    assert "each time you open this page" in text
    assert "Your clinic has not added a reading list yet" in text
    assert "020 7946 0000" in text
    assert "knees@north.example" in text
    # The clinician's free-text reasoning is not on it (it may name people).
    assert consultation.reasoning not in html


@time_machine.travel(NOW, tick=False)
def test_nothing_on_it_identifies_anyone(client, clinician, patient, treated_knees):
    consultation = make_consultation(patient, clinician)
    _, html = open_copy(client, consultation, clinician)
    others = Patient.objects.exclude(pk=patient.pk)
    assert others.count() >= 26  # the treated knees' patients
    names = [value for person in [patient, *others] for value in (person.registry_number, person.full_name) if value]
    assert patient.registry_number in names
    for value in names:
        assert value not in html
    assert clinician.username not in html
    assert not re.search(r"KR-\d{4}", html)


@time_machine.travel(NOW, tick=False)
def test_the_clinics_own_words_are_shown(client, clinic, clinician, lead, patient, treated_knees):
    services.decision_aid_text_save(
        clinic=clinic,
        by=lead,
        data={
            "without_injection": "Most knees stay about the same for a year.\n\nWalk every day.",
            "references": "Smith J. Knee injections: a review. BMJ 2024;1:1.\n\nJones K. PRP trial. Lancet 2025.",
        },
    )
    consultation = make_consultation(patient, clinician)
    _, html = open_copy(client, consultation, clinician)
    assert "<p>Most knees stay about the same for a year.</p>" in html
    assert "<p>Walk every day.</p>" in html
    assert DEFAULT_WITHOUT_INJECTION not in html
    assert "<li>Smith J. Knee injections: a review. BMJ 2024;1:1.</li>" in html
    assert "<li>Jones K. PRP trial. Lancet 2025.</li>" in html
    assert DecisionAidText.history.count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_small_registry_says_not_enough_data_and_shows_no_number(client, clinic, clinician, patient):
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 9, timepoint="6m")  # one short of the minimum
    plan_outcomes.refresh()
    consultation = make_consultation(patient, clinician)
    _, html = open_copy(client, consultation, clinician)
    section = html.split('data-testid="copy-knees"', 1)[1].split("</section>", 1)[0]
    assert "Not enough data in this registry for bone marrow cells (BMAC) at 6 months." in section
    assert "We do not give numbers from fewer than 10 knees." in section
    assert "9 of" not in section
    assert "Of 9" not in section


@time_machine.travel(NOW, tick=False)
def test_advising_against_has_no_fallback_plan(client, clinician, patient):
    consultation = make_consultation(patient, clinician, **advise_against(alternatives_discussed=["exercise"]))
    _, html = open_copy(client, consultation, clinician)
    text = page_text(html)
    assert "We advised you not to have an injection into your left knee at this time." in text
    assert "We suggested you see: Surgical opinion." in text
    assert 'data-testid="copy-fallback"' not in html
    assert "We did not talk about an injection, so there are no numbers" in text
    assert "If you do not have an injection" in text


@time_machine.travel(NOW, tick=False)
def test_the_pdf_says_the_same(client, clinician, patient, treated_knees):
    consultation = make_consultation(patient, clinician)
    token, _ = open_copy(client, consultation, clinician)
    response = client.get(reverse("patient-copy:pdf", args=[token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="knee-consultation-2026-02-20.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF")
    pdf_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())
    for sentence in (
        "We agreed to go ahead with an injection of bone marrow cells (BMAC) into your left knee.",
        "we heard back from 12 at 6 months.",
        "We worked out these numbers on 1 June 2027.",
        "about 6 months after the injection.",
        "If you do not have an injection",
    ):
        assert sentence in pdf_text
    assert patient.registry_number not in pdf_text
    # Staff get the same PDF from the consultation page.
    client.force_login(clinician)
    staff = client.get(reverse("consultations:patient-copy-pdf", args=[consultation.pk]))
    assert staff.status_code == 200
    assert staff.content.startswith(b"%PDF")


@time_machine.travel(NOW, tick=False)
def test_the_page_costs_a_fixed_number_of_queries(
    client, clinic, clinician, patient, treated_knees, django_assert_max_num_queries
):
    """A fixed number per option compared (outcomes.analysis.expectation), none per knee."""
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 10, timepoint="6m", product="ha")
    plan_outcomes.refresh()
    consultation = make_consultation(patient, clinician)
    token = services.patient_copy_issue(consultation=consultation, by=clinician).token
    url = reverse("patient-copy:page", args=[token])
    with django_assert_max_num_queries(30) as small:
        assert client.get(url).status_code == 200
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 25, timepoint="6m", product="ha")
    bulk_pairs(clinic, clinician, [(BEFORE, WORSE)] * 25, timepoint="6m")
    plan_outcomes.refresh()
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


def _grade(text: str) -> float:
    return textstat.flesch_kincaid_grade(text)


@time_machine.travel(NOW, tick=False)
def test_reading_grade_with_figures_is_8_or_lower(client, clinician, patient, treated_knees):
    consultation = make_consultation(patient, clinician)
    _, html = open_copy(client, consultation, clinician)
    text = page_text(html, skip_citations=True)
    assert "we heard back from 12" in text  # the figures are there
    assert _grade(text) <= MAX_GRADE, (_grade(text), text)


@time_machine.travel(NOW, tick=False)
def test_reading_grade_with_not_enough_data_is_8_or_lower(client, clinician, patient):
    consultation = make_consultation(patient, clinician)
    _, html = open_copy(client, consultation, clinician)
    text = page_text(html, skip_citations=True)
    assert "Not enough data in this registry" in text
    assert _grade(text) <= MAX_GRADE, (_grade(text), text)


@time_machine.travel(NOW, tick=False)
def test_the_readability_check_can_fail(client, clinician, patient):
    """The formula on this page's text is not vacuous: a paragraph of dense clinical prose fails it."""
    dense = (
        "Intra-articular administration of autologous bone marrow aspirate concentrate demonstrated statistically "
        "significant improvements in patient-reported outcome measures, notwithstanding considerable heterogeneity "
        "across methodologically comparable randomised investigations."
    )
    assert _grade(dense) > MAX_GRADE


@time_machine.travel(NOW, tick=False)
def test_the_number_of_knees_due_is_not_given_away_by_the_injections(client, api_as, clinician, patient, treated_knees):
    """14 BMAC knees due, 12 heard back: the copy says "13 to 21", and no line beside it (injections given, a rate
    per 100 injections, a share of the knees) gives the 14 back (outcomes/analysis/expectation.py, small numbers)."""
    consultation = make_consultation(patient, clinician)
    _, html = open_copy(client, consultation, clinician)
    bmac = " ".join(re.sub(r"<[^>]+>", " ", html.split('data-product="bmac"', 1)[1].split("</ul>", 1)[0]).split())
    assert "Of 13 to 21 knees like yours" in bmac
    # The harms and further treatment lines name no number of knees or injections (the mean change, +14 points, may).
    harms = [line for line in bmac.split(". ") if "injection" in line or "treatment" in line]
    assert any("side effect" in line for line in harms)
    assert not [line for line in harms if re.search(r"\b14\b", line)]
    assert "we do not show how many injections were given" in bmac
    url = reverse("consultations-api:consultation-expectation", args=[consultation.pk])
    [option] = [o for o in api_as(clinician).get(url).json()["options"] if o["product"] == "bmac"]
    assert (option["due"]["n"], option["heard_back"]["n"]) == (None, 12)
    assert all(row["injections"] is None and row["per_100"] is None for row in option["adverse_events"]["rows"])
    assert "14" not in str(option["adverse_events"]) + str(option["further_treatment"])
