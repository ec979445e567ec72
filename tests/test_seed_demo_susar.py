"""The demo shows issue 15's SUSAR clock: after the exosome study injection, one candidate with one day left on the
attention page and one already reported (its event page says so), within the attention page's query budget."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from safety.models import AdverseEvent, RegulatoryReport


@pytest.fixture
def seeded(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAR_DIR = tmp_path
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    call_command("seed_demo", stdout=io.StringIO())  # with the synthetic registry: its candidates are reported


@pytest.mark.django_db
def test_the_demo_has_a_running_clock_and_a_reported_candidate(seeded, client, django_assert_max_num_queries):
    running = list(AdverseEvent.objects.susar_clocks_running())
    assert len(running) == 1
    assert running[0].is_susar_candidate
    reported = RegulatoryReport.objects.get(reference="NKC-EXO-SAE-0007").event
    assert reported.is_susar_candidate
    # Every other candidate (the synthetic registry's) has its initial report.
    unreported = AdverseEvent.objects.susar_candidates().exclude(regulatory_reports__kind="initial")
    assert list(unreported) == running

    client.force_login(get_user_model().objects.get(username="clinician"))
    client.get("/attention/")  # warm caches (session, content types)
    with django_assert_max_num_queries(25):
        html = client.get("/attention/").content.decode()
    section = html.split('id="susar"', 1)[1].split("</section>", 1)[0]
    assert f"/adverse-events/{running[0].pk}/" in section
    assert "1 day left" in section
    assert f"/adverse-events/{reported.pk}/" not in section
    page = client.get(reverse("safety:event-detail", args=[reported.pk])).content.decode()
    assert "to Study sponsor, ref NKC-EXO-SAE-0007" in page
