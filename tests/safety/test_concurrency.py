"""Two evaluations of one submission at the same moment (a duplicate task delivery next to the sweep's retry):
one flag per rule, each announced once. Needs PostgreSQL's row locks; SQLite serialises everything anyway."""

import threading

import pytest
from django.db import connection

from safety import signals
from safety.models import Evaluation, Flag
from safety.services import flags_evaluate


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_raise_and_announce_each_flag_once(postgres_required, journey):
    j = journey()
    j.baseline()
    submission = j.one_month(**{"SAFETY.swelling": "yes", "VAS.pain": "70"})
    announced: list[int] = []
    signals.flag_raised.connect(
        lambda sender, flag, **kw: announced.append(flag.pk), dispatch_uid="test-concurrent", weak=False
    )
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def evaluate():
        try:
            barrier.wait(timeout=5)
            results.append(sorted(f.pk for f in flags_evaluate(submission.pk)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=evaluate) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        signals.flag_raised.disconnect(dispatch_uid="test-concurrent")
    assert errors == []
    flags = sorted(Flag.objects.filter(submission=submission).values_list("pk", flat=True))
    assert len(flags) == 3  # swelling, VAS worse than baseline, and the two together (VAS worse than last time)
    assert results == [flags, flags]
    assert sorted(announced) == flags
    assert Evaluation.objects.get(submission=submission).attempts == 2
