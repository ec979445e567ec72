"""Write paths for safety flags: evaluating a submission, raising a flag, and a clinician's review of it."""

import logging
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from outcomes.measures import MEASURES, submission_scores
from outcomes.models import Submission, Timepoint
from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS
from safety import rules, signals
from safety.choices import FlagStatus
from safety.models import Evaluation, Flag

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


def submission_measures(submission: Submission) -> dict[str, float | None]:
    """Current scores keyed by measure name: the denormalised columns, which carry any clinician amendment."""
    return submission_scores(submission)


def baseline_submission_for(submission: Submission) -> Submission | None:
    """The baseline questionnaire of the same treatment plan (None when it is itself the baseline or missing).
    None for an early safety check too: the deterioration flags are efficacy signals, and pain in the days after
    an injection is what the safety rules (swelling with pain worse than last time) are for."""
    if submission.timepoint == Timepoint.BASELINE or submission.timepoint in SAFETY_CHECK_TIMEPOINTS:
        return None
    return Submission.objects.filter(
        follow_up__plan_id=submission.follow_up.plan_id, follow_up__timepoint=Timepoint.BASELINE
    ).first()


def previous_submission_for(submission: Submission, measure: str = "vas.pain") -> Submission | None:
    """The same knee's most recent earlier questionnaire that scored `measure` (any plan for that knee, baseline
    included): what a red flag compares against when it asks "worse than last time"."""
    column = next(m.column for m in MEASURES if m.name == measure)
    follow_up = submission.follow_up
    return (
        Submission.objects.filter(
            follow_up__patient_id=follow_up.patient_id,
            follow_up__plan__knee=follow_up.plan.knee,
            submitted_at__lt=submission.submitted_at,
            **{f"{column}__isnull": False},
        )
        .exclude(pk=submission.pk)
        .order_by("-submitted_at", "-pk")
        .first()
    )


def flag_raise(*, submission: Submission, rule: str, urgent: bool, values: dict) -> tuple[Flag, bool]:
    """The flag for `rule` on the submission's follow-up, raised now unless it already exists: (flag, created).

    A new flag announces itself with `flag_raised` once the transaction commits, so an email never goes out for
    a flag that was rolled back, and never twice for the same flag.
    """
    follow_up = submission.follow_up
    existing = Flag.objects.filter(follow_up_id=follow_up.pk, rule=rule).first()
    if existing is not None:
        return existing, False
    flag = Flag(
        clinic_id=follow_up.clinic_id,
        patient_id=follow_up.patient_id,
        follow_up=follow_up,
        submission=submission,
        rule=rule,
        urgent=urgent,
        values=values,
        raised_at=timezone.now(),
    )
    flag._change_reason = f"Raised by rule {rule}"
    try:
        with transaction.atomic():
            flag.save()
    except IntegrityError:
        # Another evaluation of the same follow-up got there first: theirs is the flag (and its signal).
        return Flag.objects.get(follow_up_id=follow_up.pk, rule=rule), False
    transaction.on_commit(partial(signals.flag_raised.send, sender=Flag, flag=flag))
    return flag, True


def flags_evaluate(submission_id: int) -> list[Flag]:
    """Run the flag rules over one submission; returns every flag its rules raise (new or already raised).

    Idempotent: run it again (a retried task, the sweep, a duplicate delivery) and nothing is raised twice.
    Success is recorded on the submission's Evaluation. On any error the flags of this run are rolled back, the
    error is recorded on the Evaluation (the submission itself is never touched) and the exception is re-raised so
    the caller's task retries. Call it outside a transaction, so that the error record survives the rollback.
    """
    submission = Submission.objects.select_related("follow_up__plan").get(pk=submission_id)
    try:
        with transaction.atomic():
            evaluation, _ = Evaluation.objects.get_or_create(submission=submission)
            # Two evaluations of one submission run one after the other (the second then finds the flags).
            evaluation = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
            baseline = baseline_submission_for(submission)
            previous = previous_submission_for(submission)
            findings = rules.evaluate(
                submission.answers,
                submission_measures(submission),
                submission_measures(baseline) if baseline else None,
                previous_scores=submission_measures(previous) if previous else None,
            )
            flags = []
            for finding in findings:
                values = dict(finding.values)
                if "previous" in values and previous is not None:
                    values["previous_submission"] = previous.pk
                elif "measure" in values and baseline is not None:
                    values["baseline_submission"] = baseline.pk
                flag, _ = flag_raise(submission=submission, rule=finding.rule, urgent=finding.urgent, values=values)
                flags.append(flag)
            now = timezone.now()
            Evaluation.objects.filter(pk=evaluation.pk).update(
                evaluated_at=now, last_attempt_at=now, attempts=F("attempts") + 1, error=""
            )
        return flags
    except Exception as exc:
        _evaluation_failed(submission_id, exc)
        raise


def _evaluation_failed(submission_id: int, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    try:
        with transaction.atomic():
            evaluation, _ = Evaluation.objects.get_or_create(submission_id=submission_id)
            Evaluation.objects.filter(pk=evaluation.pk).update(
                evaluated_at=None, last_attempt_at=timezone.now(), attempts=F("attempts") + 1, error=error
            )
    except Exception:
        # Recording is best effort (the database may be what failed); the sweep still finds the submission.
        logger.exception("Could not record the failed flag evaluation of submission %s", submission_id)
    logger.warning("Flag evaluation of submission %s failed: %s", submission_id, error)


def flag_review(flag: Flag, *, by, status: str, reason: str, **fields) -> Flag:
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if not flag.can_transition_to(status):
        now, then = flag.get_status_display().lower(), FlagStatus(status).label.lower()
        raise ValidationError({"status": f"A flag that is {now} cannot become {then}."})
    for name, value in fields.items():
        setattr(flag, name, value)
    flag.status = status
    flag.reviewed_by = by
    flag.reviewed_at = timezone.now()
    flag._history_user = by
    flag._change_reason = reason
    flag.save()
    return flag


@transaction.atomic
def flag_start_review(*, flag: Flag, by) -> Flag:
    """A clinician takes the flag: it leaves the untouched pile and shows who is looking at it."""
    return flag_review(flag, by=by, status=FlagStatus.IN_REVIEW, reason="Review started")


@transaction.atomic
def flag_dismiss(*, flag: Flag, by, reason: str) -> Flag:
    """Close the flag as not an adverse event. The reason is required and kept with the flag's history."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this flag is not an adverse event."})
    return flag_review(flag, by=by, status=FlagStatus.DISMISSED, reason=f"Dismissed: {reason}", dismissed_reason=reason)


def flag_event_recorded(*, flag: Flag, event, by) -> Flag:
    """The flag turned out to be an adverse event (recorded in the caller's transaction,
    safety.services.adverse_events): it closes as "event recorded", by the flags' own transition rules."""
    return flag_review(flag, by=by, status=FlagStatus.EVENT_RECORDED, reason=f"Adverse event #{event.pk} recorded")
