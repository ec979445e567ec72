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


class RequiredEvenWhenPartialMixin:
    """Fields a correction (PATCH) must always carry, such as its `reason`. DRF's partial=True makes every field
    optional; these are checked here, reported with the other field errors, and marked required in the schema
    (registry.api.schema), so a generated client cannot build a correction without them."""

    required_even_when_partial: tuple[str, ...] = ()

    def to_internal_value(self, data):
        missing = {}
        if isinstance(data, Mapping):
            missing = {
                name: [serializers.Field.default_error_messages["required"]]
                for name in self.required_even_when_partial
                if name not in data
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if missing and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError({**missing, **exc.detail}) from exc
            raise
        if missing:
            raise serializers.ValidationError(missing)
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
    """The one pagination of every API list (DEFAULT_PAGINATION_CLASS): limit/offset pages of 50 by default and
    500 at most, so no request fetches a whole registry. A limit or offset that is not a whole number in range is
    a 400 naming the parameter: DRF's own class quietly used the default for a bad one, clamped a huge one, and
    handed a huge offset to the database (a 500: bigint out of range)."""

    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        for read in (self.get_limit, self.get_offset):  # both checked, so both errors are reported together
            try:
                read(request)
            except serializers.ValidationError as exc:
                errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request) -> int:
        return _whole_number(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request) -> int:
        return _whole_number(request, self.offset_query_param, 0, 0, MAX_ID)

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["description"] = (
            f"Results per page: 1 to {self.max_limit} (default {self.default_limit}); anything else is a 400."
        )
        limit["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_limit, "default": self.default_limit}
        offset["description"] = "Results to skip, from 0; a negative or non-numeric value is a 400."
        offset["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        return [limit, offset]


def _whole_number(request, name: str, default: int, minimum: int, maximum: int) -> int:
    if name not in request.query_params:
        return default
    field = serializers.IntegerField(min_value=minimum, max_value=maximum)
    try:
        return field.run_validation(request.query_params[name])
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc
