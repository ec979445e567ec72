from rest_framework import viewsets

from registry.api.mixins import ID_IN_URL
from safety.api.filters import FlagFilter
from safety.api.serializers import FlagSerializer
from safety.selectors import INBOX_ORDER, flags_for


class FlagViewSet(viewsets.ReadOnlyModelViewSet):
    """Safety flags of the user's clinics, urgent first, then oldest. Read-only: a flag is reviewed on its page
    (and, later, through the adverse-event workflow)."""

    serializer_class = FlagSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = FlagFilter

    def get_queryset(self):
        return flags_for(self.request.user).select_related("patient", "follow_up").order_by(*INBOX_ORDER)
