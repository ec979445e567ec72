"""Reusable pieces for the registry's API: strict input and write-scoped object lookups."""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS

UNKNOWN_FIELD = "Unknown field."
# Ids are 64-bit; a larger number can name no row (and SQLite raises OverflowError on it).
MAX_ID = 2**63 - 1
# Ids in URLs: digits that fit in 64 bits, so anything else is a plain 404 from the URL resolver.
ID_IN_URL = "[0-9]{1,18}"
READ_ONLY_FIELD = "This field is read-only."


class RejectUnknownFieldsMixin:
    """Reject keys the serializer does not accept, instead of silently dropping them (DRF's default).

    A typo such as ``"kl_grad"`` would otherwise save a record without the value the clinician meant to send.
    Read-only fields (e.g. ``registry_number``) are rejected too, with their own message, so a client never
    believes it set something it cannot. The errors are reported together with every other field error.
    """

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's own "Expected a dictionary" error
        errors = {}
        for key in data:
            field = self.fields.get(key)
            if field is None:
                errors[key] = [UNKNOWN_FIELD]
            elif field.read_only:
                errors[key] = [READ_ONLY_FIELD]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, Mapping):
                raise
            raise serializers.ValidationError({**exc.detail, **errors}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


class WriteScopedObjectMixin:
    """Find the object among what the user may read (404 otherwise), then refuse a change with 403 when the
    user's role in that object's clinic is read-only (an auditor there, even if they write elsewhere)."""

    def get_write_queryset(self):
        raise NotImplementedError

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in SAFE_METHODS and not self.get_write_queryset().filter(pk=obj.pk).exists():
            raise PermissionDenied("Your role in this clinic can read but not change its records.")
        return obj


class RegistryPagination(LimitOffsetPagination):
    """The project's limit/offset pages (50 by default), with a ceiling so ?limit=10000000 cannot fetch a
    whole registry in one request."""

    max_limit = 500
