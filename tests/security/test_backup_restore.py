"""bin/backup dumps the database (pg_dump -Fc) and bin/restore loads it into a new database where every record
is found: the same row count in every table, and a sample patient, injection and submission identical."""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from outcomes.models import Submission
from tests.support.answers import answers_for
from tests.support.journeys import q_url

ROOT = Path(settings.BASE_DIR)


def url_for(name: str) -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}


def row(url: str, table: str, pk: int) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(f'SELECT * FROM "{table}" WHERE id = %s', [pk]).fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_into_a_new_database_with_every_record(postgres_required, client, token, baseline, tmp_path):
    assert client.post(q_url(token), answers_for(baseline)).status_code == 302
    submission = Submission.objects.get(follow_up=baseline)
    patient, injection = baseline.patient, baseline.plan.injections.get()

    source = url_for(connection.settings_dict["NAME"])
    env = {**os.environ, "DATABASE_URL": source}
    dump = tmp_path / "registry.dump"
    made = subprocess.run([ROOT / "bin/backup", dump], env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_mode & 0o077 == 0  # health data: readable by its owner only

    # Named after this test database (unique per run and xdist worker), not drawn at random.
    restored_name = f"{connection.settings_dict['NAME']}_restored"
    restored = url_for(restored_name)
    try:
        done = subprocess.run(
            [ROOT / "bin/restore", dump, restored], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        before, after = table_counts(source), table_counts(restored)
        assert after == before
        assert before["registry_patient"] >= 1
        assert before["outcomes_submission"] == 1
        assert before["registry_historicalpatient"] >= 1
        for table, pk in (
            ("registry_patient", patient.pk),
            ("registry_injection", injection.pk),
            ("outcomes_submission", submission.pk),
        ):
            assert row(restored, table, pk) == row(source, table, pk), table
        # Restoring over a database that has tables is refused.
        again = subprocess.run([ROOT / "bin/restore", dump, restored], env=env, capture_output=True, text=True)
        assert again.returncode == 3
    finally:
        with psycopg.connect(url_for("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
