"""`make run`'s commands: seed_demo (idempotent demo data, logins printed every start) and rundemo (worker + web)."""

import io
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.management.commands import rundemo, seed_demo
from registry.choices import InjectionStatus, Product
from registry.models import Clinic, Injection, Membership, Patient, TreatmentPlan
from registry.scoping import can_write, patients_for


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding hashes four passwords
    settings.VAR_DIR = tmp_path
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    return tmp_path


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        Injection.objects.order_by(
            "patient__full_name", "patient__registry_number", "plan__knee", "number_in_plan"
        ).values_list("patient__full_name", "product", "knee", "injected_on", "status", "protocol", "kl_grade")
    )


def test_seed_loads_a_realistic_mix_through_the_services(db, var_dir):
    output = seed("--seed", "7")
    assert Clinic.objects.count() == 2
    # The dozen hand-made showcase patients (the synthetic registry around them: tests/test_seed_demo.py).
    showcase = Injection.objects.filter(patient__full_name__in=seed_demo.NAMES)
    assert Patient.objects.filter(full_name__in=seed_demo.NAMES).count() == 12
    products = set(showcase.values_list("product", flat=True))
    assert {Product.BMAC, Product.PRP, Product.HA, Product.CORTICOSTEROID, Product.EXOSOME} <= products
    harvest_sites = {i.protocol["harvest_site"] for i in showcase.filter(product=Product.BMAC)}
    assert len(harvest_sites) >= 3
    exosome = showcase.get(product=Product.EXOSOME)
    assert exosome.governance["study_registration"] == "NCT01234567"
    staged = TreatmentPlan.objects.get(planned_injections=3, patient__full_name__in=seed_demo.NAMES)
    assert staged.product == Product.PRP
    assert list(staged.injections.order_by("number_in_plan").values_list("status", flat=True)) == [
        InjectionStatus.GIVEN,
        InjectionStatus.GIVEN,
        InjectionStatus.PLANNED,
    ]
    # Services leave an audit row with the reason.
    assert exosome.history.first().history_change_reason == "Injection recorded"
    dates = sorted(showcase.filter(status=InjectionStatus.GIVEN).values_list("injected_on", flat=True))
    assert (dates[-1] - dates[0]).days > 150  # spread over months, not one day
    assert "Demo data loaded (seed 7)" in output
    # Combined injections (issue 15): BMAC with PRP into the joint and BMAC into the medial tibial plateau.
    combined = [i for i in showcase.prefetch_related("components") if i.is_combined]
    assert len(combined) >= 2
    for injection in combined:
        assert injection.products_label == "BMAC + PRP"
        routes = [(c.product, c.route) for c in injection.ordered_components]
        assert routes == [("bmac", "intra_articular"), ("prp", "intra_articular"), ("bmac", "intraosseous_tibial")]
        assert injection.ordered_components[0].volume_ml == injection.volume_ml


def test_logins_are_printed_stored_and_work(db, var_dir, client):
    output = seed()
    stored = seed_demo.read_logins(var_dir / "demo-logins.txt")
    assert set(stored) == {"clinician", "lead", "auditor", "admin"}
    for username, password in stored.items():
        assert f"{username:<10} {password}" in output
        assert client.login(username=username, password=password), username
    assert oct((var_dir / "demo-logins.txt").stat().st_mode & 0o777) == "0o600"


def test_roles_show_scoping(db, var_dir):
    seed()
    users = {u.username: u for u in get_user_model().objects.all()}
    assert patients_for(users["clinician"]).count() < Patient.objects.count()  # one clinic only
    assert patients_for(users["lead"]).count() == Patient.objects.count()
    assert patients_for(users["auditor"]).count() == Patient.objects.count()
    assert not can_write(users["auditor"])
    assert users["admin"].is_superuser
    assert Membership.objects.filter(user=users["auditor"]).count() == 2


def test_second_run_changes_nothing_and_prints_the_same_logins(db, var_dir):
    first = seed()
    before = snapshot()
    second = seed()
    assert "already loaded" in second
    assert snapshot() == before
    assert first.split("Demo logins")[1] == second.split("Demo logins")[1]


def test_missing_logins_file_gets_new_working_passwords(db, var_dir, client):
    seed()
    (var_dir / "demo-logins.txt").unlink()
    seed()
    password = seed_demo.read_logins(var_dir / "demo-logins.txt")["clinician"]
    assert client.login(username="clinician", password=password)


def test_same_seed_same_data_and_reset_starts_over(transactional_db, var_dir):
    seed("--seed", "11")
    first = snapshot()
    (var_dir / "mailbox").mkdir()
    (var_dir / "mailbox" / "old.eml").write_text("Subject: stale\n\nold")
    passwords = seed_demo.read_logins(var_dir / "demo-logins.txt")
    seed("--reset", "--seed", "11")
    assert snapshot() == first
    assert not list((var_dir / "mailbox").glob("*.eml"))
    assert seed_demo.read_logins(var_dir / "demo-logins.txt") == passwords  # generated once
    seed("--reset", "--seed", "12")
    assert snapshot() != first


def test_refuses_production(db, var_dir, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        seed()
    assert not Clinic.objects.exists()


# --- rundemo -----------------------------------------------------------------------------------------------------


def fake(code: str) -> list[str]:
    return [sys.executable, "-c", code]


READY_WORKER = "import time; print('celery@demo ready.', flush=True); time.sleep(60)"


def run_demo(monkeypatch, *, worker: str, server: str) -> str:
    monkeypatch.setattr(rundemo, "send_due_emails", lambda stdout: None)  # tests/test_demo_first_start.py
    monkeypatch.setattr(rundemo, "worker_command", lambda: fake(worker))
    monkeypatch.setattr(rundemo, "server_command", lambda address: fake(server))
    out = io.StringIO()
    call_command("rundemo", "--port", "8123", stdout=out)
    return out.getvalue()


def test_rundemo_prints_where_everything_is_and_stops_the_worker_with_the_server(var_dir, monkeypatch):
    started = []
    real_popen = rundemo.subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(rundemo.subprocess, "Popen", popen)
    output = run_demo(monkeypatch, worker=READY_WORKER, server="import time; time.sleep(0.5)")
    assert "Worker ready." in output
    assert "http://127.0.0.1:8123/dev/mailbox/" in output
    assert "http://127.0.0.1:8123/admin/" in output
    assert "Stopped." in output
    assert all(process.poll() is not None for process in started)  # the worker did not outlive the command


def test_rundemo_says_so_when_the_worker_dies(var_dir, monkeypatch):
    worker = "import sys, time; print('celery@demo ready.', flush=True); time.sleep(0.5); print('boom'); sys.exit(3)"
    with pytest.raises(CommandError, match=r"The Celery worker stopped \(exit code 3\)") as err:
        run_demo(monkeypatch, worker=worker, server="import time; time.sleep(60)")
    assert "boom" in str(err.value)  # the log's last lines are shown


def test_rundemo_gives_up_when_the_worker_never_gets_ready(var_dir, monkeypatch):
    monkeypatch.setattr(rundemo, "READY_TIMEOUT_S", 1)
    with pytest.raises(CommandError, match="did not report ready"):
        run_demo(monkeypatch, worker="import time; time.sleep(60)", server="raise SystemExit(0)")


def test_rundemo_runs_the_real_worker_with_beat_and_the_schedule_under_var(settings):
    command = rundemo.worker_command()
    assert command[1:6] == ["-m", "celery", "-A", "config", "worker"]
    assert "-B" in command
    assert str(settings.CELERY_BEAT_SCHEDULE_FILENAME) in command
    assert rundemo.server_command("127.0.0.1:8000")[-2:] == ["runserver", "127.0.0.1:8000"]
