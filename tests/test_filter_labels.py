"""Every filter a person can see has a label a person can read. django-filter derives a label from the model
field a filter names, and shows "[invalid name]" when the filter computes its own condition (a method, an age
band, a staging rule) rather than naming a field: the dashboard showed one as a filter's label."""

import importlib

import django_filters
import pytest
from django.conf import settings
from django.urls import reverse

# Imported so that every FilterSet of the project is defined before the walk below.
FILTER_MODULES = [
    "registry.api.filters",
    "outcomes.api.filters",
    "outcomes.analysis.filters",
    "safety.api.flags",
    "safety.api.adverse_events",
    "notifications.api.views",
]
OUR_APPS = ("registry", "outcomes", "safety", "notifications", "audit")


def _filtersets():
    for module in FILTER_MODULES:
        importlib.import_module(module)
    seen, todo = [], list(django_filters.FilterSet.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # A filter set without a model is a base for others (RegistryFilterSet), not one a user sees.
        if cls.__module__.startswith(OUR_APPS) and cls._meta.model is not None:
            seen.append(cls)
    return seen


def test_every_filterset_of_the_project_is_walked():
    names = {cls.__name__ for cls in _filtersets()}
    assert {"OutcomeFilter", "PatientFilter", "InjectionFilter", "FollowUpFilter", "MessageFilter"} <= names
    defined = {
        f"{app}: {path.name}"
        for app in OUR_APPS
        for path in (settings.BASE_DIR / app).rglob("*.py")
        if "FilterSet)" in path.read_text()
    }
    assert len(defined) <= len(FILTER_MODULES), f"a new module defines filters: add it to FILTER_MODULES {defined}"


@pytest.mark.parametrize("filterset", _filtersets(), ids=lambda cls: cls.__name__)
def test_every_filter_has_a_readable_label(filterset):
    form = filterset().form
    labels = {name: str(field.label) for name, field in form.fields.items()}
    assert not [name for name, label in labels.items() if "[invalid name]" in label or not label.strip()], labels


def test_the_dashboard_filters_are_labelled_as_a_clinician_would_say(client, clinician):
    client.force_login(clinician)
    html = client.get(reverse("outcomes:dashboard")).content.decode()
    assert "[invalid name]" not in html
    assert '<label for="id_age_band">Age band</label>' in html
    assert '<label for="id_clinic">Clinic</label>' in html
