"""Write paths for follow-ups and questionnaires: scheduling, links, submission and amendment."""

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone, translation

from outcomes import questionnaire, schedule, signals
from outcomes.further_treatments import further_treatments_from_submission
from outcomes.measures import submission_columns
from outcomes.models import (
    Amendment,
    FollowUp,
    FollowUpStatus,
    QuestionnaireDraft,
    QuestionnaireLink,
    Submission,
    SubmissionSource,
    Timepoint,
)
from outcomes.models.followup import ACTIVE_STATUSES, SAFETY_CHECK_TIMEPOINTS
from outcomes.models.questionnaire import LinkChannel, hash_token
from registry.models import Clinic, Injection, Patient, TreatmentPlan

logger = logging.getLogger(__name__)

YEAR_OF_BIRTH_TRIES = 5


def clinic_today(clinic: Clinic) -> dt.date:
    return timezone.localdate(timezone=clinic.tzinfo)


def _end_of_day(day: dt.date, clinic: Clinic) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=clinic.tzinfo)


def _set_status(follow_up: FollowUp, status: str, *, reason: str = "") -> None:
    follow_up.status = status
    follow_up.status_changed_at = timezone.now()
    follow_up._change_reason = reason or f"Status {status}"


# --- Scheduling ------------------------------------------------------------------------------------------------


def follow_ups_schedule(*, plan: TreatmentPlan, injection: Injection) -> list[FollowUp]:
    """Create a plan's follow-ups from its first injection. Later stages of a staged plan add none."""
    clinic = plan.patient.clinic
    today = clinic_today(clinic)
    created = []
    for window in schedule.windows(injected_on=injection.injected_on, recorded_on=today, product=plan.product):
        follow_up = FollowUp(
            plan=plan,
            patient=plan.patient,
            clinic=clinic,
            timepoint=window.timepoint,
            opens_on=window.opens_on,
            due_on=window.due_on,
            closes_on=window.closes_on,
            injected_on=injection.injected_on,
        )
        follow_up.status = follow_up.status_on(today) if window.collectable else FollowUpStatus.NOT_COLLECTED
        follow_up._change_reason = "Scheduled with the injection"
        created.append(follow_up)
    for follow_up in created:
        follow_up.save()
    return created


def follow_ups_add_later(*, dry_run: bool = False) -> list[FollowUp]:
    """Give plans scheduled before their product had a timepoint (12 or 24 months, added in issue 15) the ones
    their product now gets, when that window has not yet closed. Rows that exist are never touched (a completed,
    missed or cancelled follow-up stays as it is), patients who withdrew get nothing, and a window that already
    closed is not created as "missed": the patient was never asked. New rows are scheduled; the minute sweep opens
    them and writes their invitations as for any other follow-up. Idempotent (unique plan and timepoint)."""
    added = []
    plans = (
        TreatmentPlan.objects.filter(follow_ups__timepoint=Timepoint.BASELINE, patient__consent_withdrawn_at=None)
        .select_related("patient__clinic")
        .prefetch_related("follow_ups")
        .distinct()
    )
    today_by_clinic: dict[int, dt.date] = {}
    for plan in plans.iterator(chunk_size=500):
        existing = {fu.timepoint: fu for fu in plan.follow_ups.all()}
        injected_on = existing[Timepoint.BASELINE].injection_day
        clinic = plan.patient.clinic
        today = today_by_clinic.setdefault(clinic.pk, clinic_today(clinic))
        for timepoint in schedule.timepoints_for(plan.product):
            if timepoint in existing:
                continue
            window = schedule.follow_up_window(timepoint=timepoint, injected_on=injected_on)
            if window.closes_on < today:
                continue
            follow_up = FollowUp(
                plan=plan,
                patient=plan.patient,
                clinic=clinic,
                timepoint=timepoint,
                opens_on=window.opens_on,
                due_on=window.due_on,
                closes_on=window.closes_on,
                injected_on=injected_on,
                status=FollowUpStatus.SCHEDULED,
            )
            follow_up._change_reason = "Added: a later timepoint for this product"
            added.append(follow_up)
    if not dry_run:
        with transaction.atomic():
            for follow_up in added:
                follow_up.save()
    return added


def follow_ups_reschedule(*, injection: Injection) -> list[FollowUp]:
    """The plan's first injection moved: move every follow-up not yet answered or cancelled."""
    if injection.number_in_plan != 1:
        return []
    clinic = injection.patient.clinic
    today = clinic_today(clinic)
    windows = {
        w.timepoint: w
        for w in schedule.windows(injected_on=injection.injected_on, recorded_on=today, product=injection.plan.product)
    }
    moved = []
    for follow_up in FollowUp.objects.select_for_update().filter(
        plan_id=injection.plan_id, status__in=[*ACTIVE_STATUSES, FollowUpStatus.MISSED, FollowUpStatus.NOT_COLLECTED]
    ):
        window = windows.get(follow_up.timepoint)
        if window is None and follow_up.timepoint in SAFETY_CHECK_TIMEPOINTS:
            window = _shifted(follow_up, injection.injected_on, today)
        elif window is None:  # a timepoint the product no longer gets: its window still follows the injection
            window = schedule.follow_up_window(timepoint=follow_up.timepoint, injected_on=injection.injected_on)
        if follow_up.timepoint == Timepoint.BASELINE and window.collectable:
            window = schedule.Window(
                window.timepoint, min(follow_up.opens_on, window.due_on), window.due_on, window.closes_on
            )
        follow_up.opens_on, follow_up.due_on, follow_up.closes_on = window.opens_on, window.due_on, window.closes_on
        follow_up.injected_on = injection.injected_on
        status = follow_up.status_on(today) if window.collectable else FollowUpStatus.NOT_COLLECTED
        _set_status(follow_up, status, reason="Injection date changed")
        follow_up.save()
        moved.append(follow_up)
    for follow_up in moved:
        signals.follow_up_rescheduled.send(sender=FollowUp, follow_up=follow_up)
    return moved


def _shifted(follow_up: FollowUp, injected_on: dt.date, today: dt.date) -> schedule.Window:
    """A safety check scheduled before SAFETY_CHECK_WINDOWS changed (or the checks were turned off) keeps its own
    offsets from the injection."""
    delta = injected_on - follow_up.injection_day
    closes_on = follow_up.closes_on + delta
    return schedule.Window(
        follow_up.timepoint, follow_up.opens_on + delta, follow_up.due_on + delta, closes_on, today <= closes_on
    )


def follow_ups_cancel_for_patient(*, patient: Patient, reason: str) -> list[FollowUp]:
    cancelled = []
    for follow_up in FollowUp.objects.select_for_update().filter(patient=patient, status__in=ACTIVE_STATUSES):
        _set_status(follow_up, FollowUpStatus.CANCELLED, reason=reason)
        follow_up.cancelled_reason = reason
        follow_up.save()
        cancelled.append(follow_up)
    if cancelled:
        signals.follow_ups_cancelled.send(sender=FollowUp, follow_ups=cancelled)
    return cancelled


def _clinic_days() -> dict[str, dt.date]:
    """Each clinic time zone's local date now (a handful of zones, however many clinics)."""
    zones = Clinic.objects.values_list("time_zone", flat=True).distinct()
    now = timezone.now()
    import zoneinfo

    return {zone: now.astimezone(zoneinfo.ZoneInfo(zone)).date() for zone in zones}


def follow_ups_open_due() -> list[int]:
    """Open every scheduled follow-up whose window has started; returns their ids. Work is proportional to what
    is due (a partial index covers scheduled rows by opening day)."""
    opened: list[int] = []
    for zone, today in _clinic_days().items():
        ids = list(
            FollowUp.objects.filter(
                status=FollowUpStatus.SCHEDULED, opens_on__lte=today, closes_on__gte=today, clinic__time_zone=zone
            ).values_list("id", flat=True)
        )
        if ids:
            FollowUp.objects.filter(id__in=ids, status=FollowUpStatus.SCHEDULED).update(
                status=FollowUpStatus.OPEN, status_changed_at=timezone.now()
            )
            opened.extend(ids)
    return opened


def follow_ups_close_overdue() -> list[int]:
    """Mark missed every follow-up still unanswered after its window closed; returns their ids."""
    missed: list[int] = []
    for zone, today in _clinic_days().items():
        ids = list(
            FollowUp.objects.filter(
                status__in=ACTIVE_STATUSES, closes_on__lt=today, clinic__time_zone=zone
            ).values_list("id", flat=True)
        )
        if ids:
            FollowUp.objects.filter(id__in=ids, status__in=ACTIVE_STATUSES).update(
                status=FollowUpStatus.MISSED, status_changed_at=timezone.now()
            )
            missed.extend(ids)
    return missed


# --- Links ---------------------------------------------------------------------------------------------------


def link_create(*, follow_up: FollowUp, channel: str = LinkChannel.EMAIL, by=None, token: str | None = None) -> str:
    """Mint a fresh link; returns the token, which is never stored (only its hash is). `token`: one derived with
    link_token_next (the next questionnaire of one text), else a new random one."""
    token = token or secrets.token_urlsafe(32)  # 256 bits
    QuestionnaireLink.objects.create(
        follow_up=follow_up,
        token_hash=hash_token(token),
        channel=channel,
        created_by=by,
        expires_at=_end_of_day(follow_up.closes_on, follow_up.clinic),
    )
    return token


def link_token_next(token: str) -> str:
    """The token of the questionnaire that follows this one in a text carrying several (a patient treated in both
    knees gets one text with one link): derived from the text's token with the server's secret, so it is stored
    nowhere (only its link's hash is) and only the holder of the text's link can reach it. 256 bits."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"questionnaire-link-next:{token}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def link_following(link: QuestionnaireLink, token: str) -> tuple[str, QuestionnaireLink] | None:
    """The token and link of the next questionnaire still to answer after this text link's (a chain of links minted
    for one text), or None. Follows the chain past questionnaires already answered; only text links have one."""
    if link.channel != LinkChannel.SMS:
        return None
    for _ in range(MAX_LINKS_IN_ONE_TEXT):
        token = link_token_next(token)
        resolved = link_resolve(token)
        if resolved.state == LinkState.INVALID:
            return None
        if resolved.state != LinkState.SUBMITTED:
            return (token, resolved.link) if resolved.state == LinkState.VALID else None
    return None


MAX_LINKS_IN_ONE_TEXT = 4  # a patient's questionnaires of one kind due together: both knees, rarely more


class LinkState:
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"
    NOT_YET_OPEN = "not_yet_open"
    SUBMITTED = "submitted"
    LOCKED = "locked"
    CANCELLED = "cancelled"


@dataclass
class ResolvedLink:
    state: str
    link: QuestionnaireLink | None = None

    @property
    def follow_up(self) -> FollowUp | None:
        return self.link.follow_up if self.link else None


def link_resolve(token: str) -> ResolvedLink:
    """What a token leads to, without changing anything (mail scanners open links too)."""
    if not token or len(token) > 128:
        return ResolvedLink(LinkState.INVALID)
    link = (
        QuestionnaireLink.objects.select_related("follow_up__clinic", "follow_up__plan", "follow_up__patient__clinic")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if link is None:
        return ResolvedLink(LinkState.INVALID)
    follow_up = link.follow_up
    if follow_up.status == FollowUpStatus.COMPLETED:
        return ResolvedLink(LinkState.SUBMITTED, link)
    if follow_up.status == FollowUpStatus.CANCELLED or follow_up.patient.has_withdrawn:
        return ResolvedLink(LinkState.CANCELLED, link)
    if link.locked_at:
        return ResolvedLink(LinkState.LOCKED, link)
    today = clinic_today(follow_up.clinic)
    if timezone.now() >= link.expires_at or today > follow_up.closes_on:
        return ResolvedLink(LinkState.EXPIRED, link)
    if today < follow_up.opens_on:
        return ResolvedLink(LinkState.NOT_YET_OPEN, link)
    return ResolvedLink(LinkState.VALID, link)


def link_mark_opened(*, link: QuestionnaireLink) -> None:
    """Recorded from the page's own script (a POST), so a mail scanner's GET never counts as opened."""
    QuestionnaireLink.objects.filter(pk=link.pk, first_opened_at__isnull=True).update(first_opened_at=timezone.now())


def link_check_year_of_birth(*, link: QuestionnaireLink, year: str) -> bool:
    """The optional second check. Failures are counted atomically; the link locks after a few."""
    if str(year).strip() == str(link.follow_up.patient.year_of_birth):
        return True
    QuestionnaireLink.objects.filter(pk=link.pk).update(failed_checks=F("failed_checks") + 1)
    link.refresh_from_db(fields=["failed_checks", "locked_at"])
    if link.failed_checks >= YEAR_OF_BIRTH_TRIES and link.locked_at is None:
        updated = QuestionnaireLink.objects.filter(pk=link.pk, locked_at__isnull=True).update(locked_at=timezone.now())
        if updated:
            link.refresh_from_db(fields=["locked_at"])
            transaction.on_commit(lambda: signals.link_locked.send(sender=QuestionnaireLink, link=link))
    return False


# --- Drafts and submission -------------------------------------------------------------------------------------


def draft_save(*, follow_up: FollowUp, data: dict[str, Any]) -> None:
    """Keep what the patient has typed so far (unvalidated, size-capped); the final submit validates."""
    answers = questionnaire.draft_values(follow_up, data)
    QuestionnaireDraft.objects.update_or_create(follow_up=follow_up, defaults={"answers": answers})
    QuestionnaireLink.objects.filter(follow_up=follow_up, started_at__isnull=True).update(started_at=timezone.now())


class AlreadySubmitted(Exception):
    pass


class NotOpen(Exception):
    pass


def score_columns(scores: dict[str, Any]) -> dict[str, Any]:
    """The Submission's score columns (one per measure) and whether its OKS total was imputed."""
    return {
        **submission_columns(scores),
        "oks_imputed": bool(scores.get("OKS_detail", {}).get("imputed")),
    }


def _announce_within(signal: Signal, **kwargs) -> None:
    """Send a domain signal inside the submission's transaction (what the receivers write commits with the answers:
    one commit), but in a savepoint: a receiver that raises, even on a broken statement, loses only its own
    change, never the patient's answers. Each has a safety net: a reminder to a completed follow-up is cancelled
    at send time, and an urgent answer still raises its flag (evaluated after commit), which tells the clinic."""
    try:
        with transaction.atomic():
            signal.send(**kwargs)
    except Exception:
        logger.exception("A receiver of %s failed; the submission is stored all the same", kwargs["sender"].__name__)


def _record_further_treatments(submission: Submission) -> None:
    """The events the answers report, in the submission's transaction but in a savepoint: the answers are stored
    whatever happens here (they hold the same facts, so a lost event can be derived from them again)."""
    try:
        with transaction.atomic():
            further_treatments_from_submission(submission)
    except Exception:
        logger.exception("Further treatments of submission %s were not recorded; the answers are stored", submission.pk)


def questionnaire_submit(
    *,
    follow_up: FollowUp,
    data: dict[str, Any],
    source: str = SubmissionSource.PATIENT_LINK,
    entered_by=None,
    language: str | None = None,
) -> Submission:
    """Validate, score and store a questionnaire atomically, once. A second submission (even at the same
    moment) raises AlreadySubmitted; invalid answers raise ValidationError keyed by `INSTRUMENT.ITEM`.
    `language`: the one the questions were shown in (default: the active language)."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    # raises ValidationError before any write
    answers, versions = questionnaire.parse(follow_up, data, language=language)
    scores = questionnaire.score_all(answers, versions)
    try:
        with transaction.atomic():
            locked = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
            if locked.status == FollowUpStatus.COMPLETED:
                raise AlreadySubmitted
            today = clinic_today(follow_up.clinic)
            late = False
            if source == SubmissionSource.STAFF_ENTERED:
                if locked.status == FollowUpStatus.CANCELLED:
                    raise NotOpen("This follow-up was cancelled.")
                # Staff may enter answers late (marked so), never before the window: a 1-month answer given in
                # week one is not a 1-month outcome. The page hides the button; this holds for every entry point.
                if today < locked.opens_on:
                    raise NotOpen(f"This follow-up opens on {locked.opens_on:%d %b %Y}.")
                late = locked.timepoint == Timepoint.BASELINE and today > locked.due_on
            elif locked.status not in ACTIVE_STATUSES or not locked.window_contains(today):
                raise NotOpen("This questionnaire is not open.")
            submission = Submission.objects.create(
                follow_up=locked,
                clinic_id=locked.clinic_id,
                timepoint=locked.timepoint,
                submitted_at=timezone.now(),
                source=source,
                entered_by=entered_by,
                late=late,
                answers=answers,
                instrument_versions=versions,
                language=language,
                scores=scores,
                **score_columns(scores),
            )
            _record_further_treatments(submission)
            _set_status(locked, FollowUpStatus.COMPLETED, reason=f"Completed ({source})")
            locked.save(update_fields=["status", "status_changed_at"])
            QuestionnaireDraft.objects.filter(follow_up=locked).delete()
            _announce_within(signals.follow_up_completed, sender=FollowUp, follow_up=locked)
            if submission.urgent_answers():
                _announce_within(signals.urgent_answers_given, sender=Submission, submission=submission)
            transaction.on_commit(
                lambda: signals.questionnaire_submitted.send(sender=Submission, submission=submission)
            )
    except IntegrityError as exc:
        # The unique follow-up on Submission is the last line against a concurrent double submit.
        raise AlreadySubmitted from exc
    follow_up.status = FollowUpStatus.COMPLETED
    return submission


@transaction.atomic
def submission_amend(*, submission: Submission, by, data: dict[str, Any], reason: str) -> Amendment:
    """A clinician's correction: new answers and scores beside the original, which is kept untouched."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why the answers are being corrected."})
    submission = Submission.objects.select_for_update().select_related("follow_up").get(pk=submission.pk)
    answers, versions = questionnaire.parse(submission.follow_up, data, versions=submission.instrument_versions)
    scores = questionnaire.score_all(answers, versions)
    previous = submission.amendments.order_by("-amended_at").first()
    amendment = Amendment.objects.create(
        submission=submission,
        amended_by=by,
        reason=reason,
        answers_before=previous.answers_after if previous else submission.answers,
        answers_after=answers,
        scores_before=previous.scores_after if previous else submission.scores,
        scores_after=scores,
    )
    for field, value in score_columns(scores).items():
        setattr(submission, field, value)
    submission.amended = True
    submission._change_reason = f"Amended: {reason}"
    submission._history_user = by
    submission.save()
    return amendment
