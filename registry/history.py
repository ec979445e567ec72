"""The audit trail's field: django-simple-history's HistoricalRecords with one cost taken out, and a way to write
one audit row for one action that saves a record and then links its many-to-many rows.

simple-history reads `Model.history` through a descriptor that builds a fresh manager class (Manager.from_queryset,
which walks the queryset class with inspect) on every access, and it accesses it for every historical row it
writes. On a questionnaire submission (two history rows) that was about a tenth of the request's CPU. The class
depends only on the descriptor's manager and queryset classes, so it is built once per model here.
"""

from contextlib import contextmanager
from functools import cached_property

from simple_history import models as history_models
from simple_history.manager import HistoryDescriptor


class _ReusedManagerClass(HistoryDescriptor):
    def __init__(self, descriptor: HistoryDescriptor):
        super().__init__(descriptor.model, manager=descriptor.manager_class, queryset=descriptor.queryset_class)

    @cached_property
    def bound_manager_class(self):
        return self.manager_class.from_queryset(self.queryset_class)

    def __get__(self, instance, owner):
        return self.bound_manager_class(self.model, instance)


_RECORDS: dict[type, "HistoricalRecords"] = {}


class HistoricalRecords(history_models.HistoricalRecords):
    def finalize(self, sender, **kwargs):
        super().finalize(sender, **kwargs)
        _RECORDS[sender] = self
        descriptor = sender.__dict__.get(self.manager_name)
        if type(descriptor) is HistoryDescriptor:  # not set for abstract or inherited models
            setattr(sender, self.manager_name, _ReusedManagerClass(descriptor))


@contextmanager
def one_history_row(instance):
    """What is done to ``instance`` inside (a save, then setting its many-to-many links) leaves one audit row,
    written at the end with the whole record (links included), the instance's ``_history_user`` and
    ``_change_reason``. Left alone, simple-history writes a row for the save and another for each m2m add, remove
    or clear: one action would show in the history two or three times."""
    created = instance._state.adding
    instance.skip_history_when_saving = True
    try:
        yield
    finally:
        del instance.skip_history_when_saving
    _RECORDS[type(instance)].create_historical_record(instance, "+" if created else "~")
