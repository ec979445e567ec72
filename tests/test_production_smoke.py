"""Production starts and works: docker-compose.yml's own commands, run here without Docker.

The `migrate`, `web`, `worker` and `beat` commands are read from docker-compose.yml and started unchanged, with the
compose environment's variables (values pointing at this machine's PostgreSQL and Redis) and the Dockerfile's ENV,
on a copy of the build context where the Dockerfile's build steps (collectstatic) ran. The test then does what a
clinic's first morning does, over real HTTP: sign in with a second factor, record a patient and a planned
injection, and answer the baseline questionnaire whose invitation the worker sent by SMTP. Every process must
still be running at the end, with no traceback or error in its log.

Dedicated and temporary: a fresh PostgreSQL database (dropped after), a Redis database number of its own (so its
worker never takes another test's tasks, nor they its), an SMTP server in this process, the image's /app and /data
under a temporary folder (VAR_DIR, MEDIA_ROOT, the beat schedule).

No TLS proxy runs here, so the test's HTTP client plays it: it sends https://localhost:<port>/... to gunicorn as
plain HTTP with `X-Forwarded-Proto: https`, as the proxy in front of compose's `web` does. The production settings
stay as compose sets them (HTTPS redirect on, secure cookies), and a request without the header is redirected.
"""

import base64
import datetime as dt
import email
import email.policy
import json
import os
import re
import secrets
import socket
import subprocess
import time
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
import redis
import requests
from aiosmtpd.controller import Controller
from django.conf import settings
from django_otp.oath import totp

from tests.deployment import BuiltImage, built_image, compose, compose_environment, in_root, session_folder
from tests.processes import free_port, minimal_env, stop, wait_until
from tests.service_checks import redis_url

pytestmark = pytest.mark.needs_services("postgres", "redis")

LONG_RUNNING = ("web", "worker", "beat")
PASSWORD = "smoke-test-" + secrets.token_urlsafe(12)
PROBLEMS = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b")
STARTUP = 60  # seconds: a first start imports everything on a busy 2-core machine


# --- the services it needs ---------------------------------------------------------------------------------------


@pytest.fixture
def database_url():
    """A fresh database next to the test database, dropped afterwards (named after this process: unique here)."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_smoke_{os.getpid()}"
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    server = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CLAIM_KEY = "production-smoke-test:claimed"


@pytest.fixture
def redis_database():
    """A Redis database number nobody uses (empty), claimed with a key so a concurrent run picks another; it
    holds this test's broker queue and cache, and is emptied afterwards."""
    parts = urlsplit(redis_url())
    for number in range(15, 1, -1):  # 0 and 1 are compose's (and the test sessions') broker and cache
        client = redis.Redis(host=parts.hostname, port=parts.port or 6379, password=parts.password, db=number)
        try:
            claimed = client.set(CLAIM_KEY, os.getpid(), nx=True, ex=600)
        except redis.ResponseError:  # fewer databases configured
            continue
        if claimed and client.dbsize() == 1:
            break
        if claimed:
            client.delete(CLAIM_KEY)
    else:
        pytest.fail("no empty Redis database to claim for the production smoke test")
    auth = f":{quote(parts.password)}@" if parts.password else ""
    yield f"redis://{auth}{parts.hostname}:{parts.port or 6379}/{number}"
    client.flushdb()
    client.close()


class Mailbox:
    """What the local SMTP server received, as email.message objects."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, mailbox
    controller.stop()


# --- the deployment, as compose runs it --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def image(tmp_path_factory) -> BuiltImage:
    """The Dockerfile's build steps (collectstatic), run once per session (tests/test_image_build.py checks them)."""
    return built_image(session_folder(tmp_path_factory))


class Deployment:
    def __init__(self, image: BuiltImage, env: dict[str, str], port: int, logs: Path):
        self.root, self.app = image.root, image.app
        self.env, self.port, self.logs = env, port, logs
        self.site = env["SITE_URL"]
        self.processes: dict[str, subprocess.Popen] = {}
        for service in ("migrate", *LONG_RUNNING):  # compose mounts each named volume (e.g. beat:/data/beat)
            for volume in compose()["services"][service].get("volumes", []):
                Path(in_root(volume.split(":")[1], self.root)).mkdir(parents=True, exist_ok=True)

    def command(self, service: str) -> list[str]:
        """The compose command, its volume paths (/data/beat) under the temporary root: arguments unchanged."""
        return [in_root(arg, self.root) for arg in compose()["services"][service]["command"]]

    def run(self, argv: list[str], *, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv, cwd=self.app, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self, service: str) -> None:
        log = (self.logs / f"{service}.log").open("w")
        self.processes[service] = subprocess.Popen(
            self.command(service),
            cwd=self.app,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
        log.close()

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")

    def alive(self, service: str) -> bool:
        if self.processes[service].poll() is not None:
            raise AssertionError(
                f"{service} exited ({self.processes[service].returncode}):\n{self.log(service)[-4000:]}"
            )
        return True

    def health_check(self, service: str) -> subprocess.CompletedProcess:
        """The compose health check of the service, as Docker runs it in the container."""
        test = compose()["services"][service]["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            return self.run(["sh", "-c", test[1].replace("$$", "$")], timeout=60)
        return self.run(test[1:], timeout=60)


@pytest.fixture
def deployment(image, tmp_path, database_url, redis_database, smtp):
    smtp_port, _ = smtp
    port = free_port()
    site = f"https://localhost:{port}"
    # Values for the variables compose sets, pointing at this machine's services instead of compose's.
    local = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_database,
        "CACHE_URL": redis_database,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SITE_URL": site,
        "ALLOWED_HOSTS": "localhost",
        "FHIR_SYSTEM_URI": "https://registry.example.org/fhir",
    }
    environments = {service: compose_environment(service, local) for service in ("migrate", *LONG_RUNNING)}
    assert all(env == environments["web"] for env in environments.values()), "one environment for every service"
    environment = environments["web"]
    assert set(local) <= set(environment), "the test sets only variables compose sets"
    assert environment["DJANGO_ENV"] == "production"
    env = minimal_env(
        **image.env,  # the Dockerfile's ENV: VAR_DIR and MEDIA_ROOT under the temporary root
        **environment,
        # What Docker or the test adds: the web port (config/gunicorn.py and bin/healthcheck.py read PORT; compose
        # maps 8000), the container's host name (the worker health check pings celery@$HOSTNAME), and emails at
        # any hour (production sends in clinic daytime, NOTIFICATIONS_SENDING_HOURS).
        PORT=str(port),
        HOSTNAME=socket.gethostname(),
        NOTIFICATIONS_SENDING_HOURS="00:00-24:00",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    deployed = Deployment(image, env, port, logs)
    yield deployed
    stop(*deployed.processes.values(), grace=60)  # compose gives the worker 60 s to finish its tasks


# --- HTTP through a stand-in for the TLS proxy ------------------------------------------------------------------


class TlsProxy(requests.adapters.HTTPAdapter):
    """Sends https://localhost:<port>/... to gunicorn on 127.0.0.1:<port> as plain HTTP with the headers a
    TLS-terminating proxy adds. Cookies and redirects behave as for the https address the browser sees."""

    def send(self, request, **kwargs):
        forwarded = request.copy()
        parts = urlsplit(request.url)
        forwarded.url = request.url.replace(f"https://{parts.netloc}", f"http://127.0.0.1:{parts.port}", 1)
        forwarded.headers["Host"] = parts.netloc
        forwarded.headers["X-Forwarded-Proto"] = "https"
        response = super().send(forwarded, **kwargs)
        response.url, response.request = request.url, request
        return response


def browser(site: str) -> requests.Session:
    session = requests.Session()
    session.mount(site, TlsProxy())
    session.headers["Referer"] = f"{site}/"  # Django's CSRF check on HTTPS wants a same-origin Referer
    return session


def csrf(session: requests.Session) -> str:
    return session.cookies["csrftoken"]


def submit(session: requests.Session, url: str, **fields: str) -> requests.Response:
    """A form POST as the browser sends it, with the CSRF field; redirects followed; must end in a 200."""
    return ok(session.post(url, {**fields, "csrfmiddlewaretoken": csrf(session)}))


class FormFields(HTMLParser):
    """The questionnaire form as a browser without JavaScript submits it: one answer per question."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag != "input" or "disabled" in a or not a.get("name"):
            return
        name, kind = a["name"], a.get("type", "text")
        if kind == "hidden":
            self.data[name] = a.get("value", "")
        elif kind == "radio" and (name not in self.data or a.get("value") == "no"):
            self.data[name] = a["value"]  # the first choice; "no" for the yes/no safety questions
        elif kind == "number":
            self.data[name] = str((int(a["min"]) + int(a["max"])) // 2)


class Timeline:
    """Prints when each stage finished (pytest shows it when the test fails, or with -s): where a slow run went."""

    def __init__(self):
        self.start = time.monotonic()

    def __call__(self, stage: str) -> None:
        print(f"{time.monotonic() - self.start:6.1f} s  {stage}")


def ok(response: requests.Response, status: int = 200) -> requests.Response:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code}"
    return response


# --- the test ---------------------------------------------------------------------------------------------------


def test_compose_commands_start_and_serve_a_questionnaire_round_trip(image, deployment, smtp):
    _, mailbox = smtp
    mark = Timeline()
    assert not [step.command for step in image.steps if step.returncode], "the Dockerfile's build steps failed"

    migrate = deployment.run(deployment.command("migrate"))
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    assert "System check identified no issues" in migrate.stdout + migrate.stderr  # check --deploy: no warning

    mark("migrated")
    for service in LONG_RUNNING:
        deployment.start(service)
    wait_until(
        lambda: deployment.alive("worker") and " ready." in deployment.log("worker"), "the worker", timeout=STARTUP
    )
    wait_until(
        lambda: deployment.alive("beat") and "beat: Starting..." in deployment.log("beat"), "beat", timeout=STARTUP
    )
    wait_until(
        lambda: deployment.alive("web") and deployment.health_check("web").returncode == 0,
        "the web health check",
        timeout=STARTUP,
        every=1,
    )
    mark("web healthy")
    # The worker's and beat's checks pass once a sweep has finished (beat's first tick comes a minute after it
    # starts): compose's start_period (120 s) covers that wait.
    wait_until(
        lambda: deployment.alive("worker") and deployment.health_check("worker").returncode == 0,
        "the worker's health check (a finished sweep)",
        timeout=150,
        every=5,
    )
    beat_check = deployment.health_check("beat")
    assert beat_check.returncode == 0, beat_check.stdout + beat_check.stderr

    mark("worker healthy")
    # An operator sets up a clinic and a clinician (the admin would do the same through the same services).
    setup = deployment.run(["python", "manage.py", "shell", "-c", OPERATOR_SETUP.format(password=PASSWORD)])
    assert setup.returncode == 0, setup.stderr
    clinic_id = int(setup.stdout.split()[-1])

    mark("operator setup")
    site = deployment.site
    plain = requests.get(
        f"http://127.0.0.1:{deployment.port}/accounts/login/",
        headers={"Host": urlsplit(site).netloc},
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 301  # production settings: without the proxy's header, off to HTTPS
    assert plain.headers["Location"].startswith("https://")

    # Sign in: production asks everyone for a second factor, so the first sign-in enrols an authenticator.
    clinic = browser(site)
    ok(clinic.get(f"{site}/accounts/login/"))
    enrol = submit(clinic, f"{site}/accounts/login/", username="smoke", password=PASSWORD)
    assert enrol.url.startswith(f"{site}/accounts/two-factor/setup/"), enrol.url
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", enrol.text).group(1).replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    codes = submit(clinic, enrol.url, code=f"{totp(key):06d}")
    assert "backup code" in codes.text.lower()
    # ... and signs in again as every other morning: password, then the app's next code.
    submit(clinic, f"{site}/accounts/logout/")
    verify = submit(clinic, f"{site}/accounts/login/", username="smoke", password=PASSWORD)
    assert verify.url == f"{site}/accounts/two-factor/verify/"
    landed = submit(clinic, verify.url, code=f"{totp(key, drift=1):06d}")  # the next 30 s step: a fresh code
    assert landed.url == f"{site}/patients/"  # where a sign-in without `next` lands

    mark("signed in")
    # A patient and an injection planned for next week: the baseline questionnaire opens today.
    api = {"X-CSRFToken": csrf(clinic)}
    today = dt.datetime.now(zoneinfo.ZoneInfo("Europe/London")).date()
    patient = ok(clinic.post(f"{site}/api/v1/patients/", json={
        "clinic": clinic_id, "full_name": "Smoke Test Patient", "email": "patient@example.org",
        "year_of_birth": 1958, "sex": "female", "consent_on": today.isoformat(), "consent_version": "v1",
        "consent_registry": True, "consent_email_contact": True,
    }, headers=api), 201).json()  # fmt: skip
    ok(clinic.post(f"{site}/api/v1/injections/", json={
        "patient": patient["id"], "knee": "left", "status": "planned",
        "injected_on": (today + dt.timedelta(days=7)).isoformat(), "product": "prp", "guidance": "ultrasound",
        "volume_ml": 4, "kl_grade": 2, "bmi_status": "measured", "bmi": 27.4, "rehabilitation": "home",
        "protocol": {"leukocytes": "poor", "spins": 2, "activation": "none", "blood_volume_ml": 30},
    }, headers=api), 201)  # fmt: skip

    # The patient's page renders with collected, hashed static files that whitenoise serves.
    page = ok(clinic.get(f"{site}/patients/{patient['registry_number']}/"))
    stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page.text).group(1)
    assert "immutable" in ok(clinic.get(f"{site}{stylesheet}")).headers["Cache-Control"]

    mark("recorded")
    # The worker sends the invitation by SMTP; its link opens the questionnaire.
    wait_until(lambda: mailbox.messages, "the invitation email", timeout=STARTUP)
    (invitation,) = mailbox.messages
    assert invitation["To"] == "patient@example.org"
    body = invitation.get_body(preferencelist=("plain",)).get_content()
    link = re.search(rf"{re.escape(site)}/q/([\w-]+)/", body)
    assert link, body
    token = link.group(1)

    mark("email")
    patient_browser = browser(site)
    check = ok(patient_browser.get(link.group(0)))
    assert "year of birth" in check.text.lower()  # the clinic asks for it first
    questionnaire = submit(patient_browser, f"{link.group(0)}check/", year_of_birth="1958")
    assert "Before your injection" in questionnaire.text
    form = FormFields()
    form.feed(questionnaire.text)
    assert len(form.data) > 40  # KOOS, OKS, pain, and the CSRF field
    thanks = ok(patient_browser.post(link.group(0), form.data))
    assert thanks.url.startswith(f"{site}/q/thanks/")
    assert token not in thanks.url  # the thanks page's address carries no token
    assert "thank" in thanks.text.lower()

    mark("submitted")
    # Stored, scored, and the follow-up completed, as the clinic's API reports it.
    follow_ups = ok(
        clinic.get(f"{site}/api/v1/follow-ups/", params={"patient": patient["id"], "timepoint": "baseline"})
    )
    (baseline,) = follow_ups.json()["results"]
    assert baseline["status"] == "completed"
    assert baseline["scores"]
    # The submission's flag rules run on the worker, after the commit.
    wait_until(
        lambda: re.search(r"evaluate_submission\[[\w-]+\] succeeded", deployment.log("worker")), "the flag rules"
    )
    mark("evaluated")

    # Every process is still up, and none logged a traceback or an error; no token reached the access log.
    for service in LONG_RUNNING:
        assert deployment.alive(service)
    assert list((deployment.root / "data" / "beat").glob("celerybeat-schedule*")), "beat's schedule: in the volume"
    web_log = deployment.log("web")
    assert "GET /q/[redacted]/ HTTP/1.1" in web_log
    assert token not in web_log
    # Structured logs (LOG_FORMAT=json in production): gunicorn's and Django's lines are JSON objects, and so are
    # Celery's (its start-up banner is printed, not logged).
    web_lines = [json.loads(line) for line in web_log.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in web_lines)
    assert any(line["logger"] == "gunicorn.access" and "/q/[redacted]/" in line["message"] for line in web_lines)
    (succeeded,) = [
        json.loads(line)
        for line in deployment.log("worker").splitlines()
        if "evaluate_submission[" in line and "succeeded" in line
    ]
    assert succeeded["level"] == "INFO"
    for service in LONG_RUNNING:
        problems = [line for line in deployment.log(service).splitlines() if PROBLEMS.search(line)]
        assert not problems, f"{service}:\n" + "\n".join(problems[:20])
        assert token not in deployment.log(service)


OPERATOR_SETUP = """
from django.contrib.auth import get_user_model
from registry.choices import Role
from registry.memberships import membership_grant
from registry.models import Clinic
clinic = Clinic.objects.create(name="Smoke Test Clinic", link_requires_year_of_birth=True)
user = get_user_model().objects.create_user("smoke", "smoke@clinic.example", "{password}")
membership_grant(user=user, clinic=clinic, role=Role.CLINICIAN)
print(clinic.pk)
"""
