"""The patient's copy of a consultation in the patient's language (issue 17): a Welsh patient's page and PDF are in
Welsh (lang="cy", Welsh month names), the page's switch changes it and carries on to the PDF, staff print the
patient's copy in the patient's language, an English patient's copy is unchanged, and a closed link's page is in
the patient's language too; so are the figures under "What happened to knees like yours"."""

import datetime as dt
import io

import pytest
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from consultations import services
from outcomes.analysis import plan_outcomes
from tests.consultations.factories import make_consultation
from tests.consultations.test_patient_copy_page import BEFORE, BETTER, WORSE, page_text
from tests.factories import PatientFactory
from tests.outcomes.analysis_data import bulk_pairs

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
FIGURES_NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)  # the bulk plans' 6-month follow-ups are long due
WELSH_TITLE = "Eich pen-glin chwith: beth wnaethon ni siarad amdano"
WELSH_DECISION = "Cytunwyd i fwrw ymlaen â phigiad o celloedd mêr esgyrn (BMAC) i eich pen-glin chwith."


def _pdf_text(content: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())


@pytest.fixture
def welsh_copy(clinic, clinician):
    clinic.phone = "029 2000 0000"
    clinic.save()
    patient = PatientFactory(clinic=clinic, preferred_language="cy")
    consultation = make_consultation(patient, clinician)
    return consultation, services.patient_copy_issue(consultation=consultation, by=clinician).token


@time_machine.travel(NOW, tick=False)
def test_a_welsh_patients_copy_page_is_in_welsh(client, welsh_copy):
    _, token = welsh_copy
    response = client.get(reverse("patient-copy:page", args=[token]), HTTP_ACCEPT_LANGUAGE="en-GB")
    html = response.content.decode()
    text = page_text(html)
    assert response.status_code == 200
    assert response["Content-Language"] == "cy"
    assert '<html lang="cy" dir="ltr">' in html
    assert WELSH_TITLE in text
    assert "Eich ymweliad ar 20 Chwefror 2026" in text  # the month in Welsh
    assert WELSH_DECISION in text
    assert "Ymarfer corff gyda help ffisiotherapydd" in text
    assert "Beth ddigwyddodd i bengliniau fel eich un chi" in text
    assert "Ar ôl pigiad o celloedd mêr esgyrn (BMAC)" in text
    assert "Dim ond pengliniau a oedd i fod i gael eu gwirio ar 6 mis a gyfrifwn." in text
    assert "Byddwn yn gwirio sut mae eich pen-glin tua 6 mis ar ôl y pigiad." in text
    assert "Cysylltwch â North Knee Clinic dros y ffôn ar 029 2000 0000." in text
    assert "Mae arthritis y pen-glin yn aml yn newid yn araf." in text  # the default words, translated
    for english in ("What we decided", "We agreed to go ahead", "Your visit on", "Questions?"):
        assert english not in text


@time_machine.travel(NOW, tick=False)
def test_the_switch_gives_english_and_carries_on_to_the_pdf(client, welsh_copy):
    _, token = welsh_copy
    response = client.get(reverse("patient-copy:page", args=[token]), {"lang": "en-gb"})
    html = response.content.decode()
    assert '<html lang="en-gb"' in html
    assert "Your left knee: what we talked about" in page_text(html)
    assert 'href="pdf/?lang=en-gb"' in html
    assert 'data-testid="language-cy"' in html  # and back to Welsh
    pdf = client.get(reverse("patient-copy:pdf", args=[token]), {"lang": "en-gb"})
    assert "Your left knee: what we talked about" in _pdf_text(pdf.content)


@time_machine.travel(NOW, tick=False)
def test_a_welsh_patients_pdf_is_in_welsh_for_them_and_for_staff(client, welsh_copy, clinician):
    consultation, token = welsh_copy
    response = client.get(reverse("patient-copy:pdf", args=[token]))
    assert response.status_code == 200
    assert response["Content-Language"] == "cy"
    text = _pdf_text(response.content)
    for sentence in (
        WELSH_TITLE,
        "Eich ymweliad ar 20 Chwefror 2026",
        WELSH_DECISION,
        "Beth wnaethon ni ei benderfynu",
    ):
        assert sentence in text
    assert "What we decided" not in text
    client.force_login(clinician)
    staff = client.get(reverse("consultations:patient-copy-pdf", args=[consultation.pk]))
    assert staff["Content-Language"] == "cy"
    assert WELSH_TITLE in _pdf_text(staff.content)


def test_the_pdfs_html_names_its_language(welsh_copy):
    """What WeasyPrint is given: lang="cy" on the document, so hyphenation and the reader's voice follow it."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from consultations.patient_copy import patient_copy

    consultation, _ = welsh_copy
    with translation.override("cy"):
        html = render_to_string("consultations/patient_copy_pdf.html", {"copy": patient_copy(consultation)})
    assert '<html lang="cy" dir="ltr">' in html
    assert f"<h1>{WELSH_TITLE}</h1>" in html


@time_machine.travel(NOW, tick=False)
def test_an_english_patients_copy_stays_english(client, clinic, clinician, patient):
    consultation = make_consultation(patient, clinician)
    token = services.patient_copy_issue(consultation=consultation, by=clinician).token
    response = client.get(reverse("patient-copy:page", args=[token]), HTTP_ACCEPT_LANGUAGE="cy")
    text = page_text(response.content.decode())
    assert response["Content-Language"] == "en-gb"
    assert "Your visit on 20 February 2026" in text
    assert "We agreed to go ahead with an injection of bone marrow cells (BMAC) into your left knee." in text


def test_a_revoked_copy_says_so_in_the_patients_language(client, welsh_copy, clinician):
    consultation, token = welsh_copy
    services.patient_copy_revoke(consultation=consultation, by=clinician)
    response = client.get(reverse("patient-copy:page", args=[token]))
    assert response.status_code == 410
    text = page_text(response.content.decode())
    assert "Nid yw'r ddolen hon yn gweithio mwyach" in text
    assert "Os hoffech gopi arall, gofynnwch i'ch clinig ar 029 2000 0000." in text


# The English openings of the figure sentences under "What happened to knees like yours".
ENGLISH_FIGURES = (
    "knees like yours",
    "we heard back from",
    "To keep people private",
    "Not enough data",
    "On average",
    "had clearly less pain",
    "led to",
    "These knees were treated",
    "We do not give numbers",
)


def _knees_section(html: str) -> str:
    section = html.split('data-testid="copy-knees"', 1)[1].split("</section>", 1)[0]
    return page_text(f"<main>{section}</main>")


@pytest.fixture
def figures(clinic, clinician):
    """14 BMAC knees like the factory consultation's (2 never answered: the number due is a range) and 12 PRP knees,
    enough for figures; no HA knee, so HA (talked about) has too few."""
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 9 + [(BEFORE, WORSE)] * 3 + [(BEFORE, None)] * 2, timepoint="6m")
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 8 + [(BEFORE, WORSE)] * 4, timepoint="6m", product="prp")
    plan_outcomes.refresh()


@time_machine.travel(FIGURES_NOW, tick=False)
def test_a_welsh_patients_figures_are_in_welsh(client, clinic, clinician, figures):
    consultation = make_consultation(PatientFactory(clinic=clinic, preferred_language="cy"), clinician)
    token = services.patient_copy_issue(consultation=consultation, by=clinician).token  # issued now: not expired
    welsh = _knees_section(client.get(reverse("patient-copy:page", args=[token])).content.decode())
    english = _knees_section(client.get(reverse("patient-copy:page", args=[token]), {"lang": "en-gb"}).content.decode())
    for opening in ENGLISH_FIGURES:
        assert opening in english  # the same copy in English says each of them...
        assert opening not in welsh  # ...and the Welsh one none
    for sentence in (
        # 2 of the 14 BMAC knees never answered: the number due is a range (outcomes.analysis.expectation).
        "O'r 13 i 21 o bengliniau fel eich un chi a gafodd bigiad o celloedd mêr esgyrn (BMAC), cawsom ateb ar gyfer "
        "12 ar ôl 6 mis.",
        "O'r 12 hynny, roedd poen llai na 10 yn amlwg yn llai ar ôl 6 mis.",
        "O'r 12 hynny, roedd sgôr pen-glin llai na 10 yr un fath neu'n waeth.",
        "Ar gyfartaledd, newidiodd y sgôr poen +14 pwynt ar raddfa o 0 i 100 (rhwng +7 a +21 yn debygol).",
        "Er mwyn cadw pobl yn breifat, nid ydym yn dangos faint o bigiadau a roddwyd.",
        "Nid oes yr un o'r 13 i 21 o bengliniau wedi cael triniaeth arall hyd yma.",
        "Efallai ein bod wedi clywed yn ôl am lai na 6 o bob 10 o'r pengliniau hyn.",
        "Cafodd y pengliniau hyn eu trin mewn 1 clinig, ym mis Mawrth 2026.",
        "Dim digon o ddata yn y gofrestrfa hon am asid hyalwronig (HA) ar ôl 6 mis.",
        "Nid ydym yn rhoi rhifau o lai na 10 o bengliniau.",
        "Arweiniodd 0 allan o 12 o bigiadau at sgîl-effaith ddifrifol.",
    ):
        assert sentence in welsh
