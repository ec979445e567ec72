"""Keeps the dashboard fresh: a submission makes its clinic's cached summaries stale at once."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from outcomes.analysis import cache
from outcomes.models import Submission
from outcomes.signals import questionnaire_submitted


@receiver(questionnaire_submitted, dispatch_uid="outcomes.analysis.new_submission")
def new_submission(sender, submission, **kwargs):
    cache.bump(submission.clinic_id)


@receiver(post_save, sender=Submission, dispatch_uid="outcomes.analysis.submission_amended")
def submission_amended(sender, instance, created, **kwargs):
    # Amendments send no domain signal; their corrected scores count from the next load too. After commit, so a
    # load between the save and the commit cannot cache the old scores under the new version.
    if not created:
        clinic_id = instance.clinic_id
        transaction.on_commit(lambda: cache.bump(clinic_id))
