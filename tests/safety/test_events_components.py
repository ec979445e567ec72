"""The adverse-event list names a combined injection by all its products, without a query per row."""

from django.urls import reverse

from tests.factories import BMAC_PROTOCOL, PRP_PROTOCOL, PatientFactory, make_injection
from tests.safety.ae_support import record

COMBINED = [
    {"product": "bmac", "volume_ml": 6, "protocol": dict(BMAC_PROTOCOL)},
    {"product": "prp", "volume_ml": 4, "protocol": dict(PRP_PROTOCOL)},
]


def test_event_list_names_every_product_and_its_queries_do_not_grow(
    client, clinic, clinician, django_assert_max_num_queries
):
    client.force_login(clinician)
    record(clinician, make_injection(PatientFactory(clinic=clinic), clinician, components=COMBINED))
    url = reverse("safety:event-list")
    with django_assert_max_num_queries(100) as one:
        assert "BMAC + PRP" in client.get(url).text
    for _ in range(4):
        record(clinician, make_injection(PatientFactory(clinic=clinic), clinician, components=COMBINED))
    with django_assert_max_num_queries(len(one.captured_queries)):
        text = client.get(url).text
    assert text.count("BMAC + PRP") == 5
