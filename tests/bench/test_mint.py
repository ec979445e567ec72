"""The benchmark's minted patients get registry numbers that are unique by construction, not by luck: minting
twice into one database, even with a random source that always repeats itself, never reuses a number."""

import secrets

import pytest

from registry.models import Patient


@pytest.mark.django_db
@pytest.mark.needs_services("postgres")  # the bench writes with COPY and a jsonb table
def test_minted_registry_numbers_never_collide_even_when_randomness_repeats(tmp_path, monkeypatch):
    from bench import steps

    monkeypatch.setattr(secrets, "token_hex", lambda nbytes=None: "3D2911")  # the duplicate the issue hit
    steps.mint(150, tmp_path / "first")  # 3 patients (one per 50 links)
    steps.mint(100, tmp_path / "second")  # 2 more, in the same database
    numbers = list(
        Patient.objects.filter(registry_number__startswith="KR-BNCH-").values_list("registry_number", flat=True)
    )
    assert len(numbers) == 5
    assert len(set(numbers)) == 5
    assert all(len(number) <= Patient._meta.get_field("registry_number").max_length for number in numbers)
