import django_filters
from rest_framework import viewsets

from notifications.api.serializers import MessageSerializer
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from notifications.selectors import messages_for
from registry.api.filters import IntegerFilter, RegistryFilterSet
from registry.api.mixins import ID_IN_URL


class MessageFilter(RegistryFilterSet):
    patient = django_filters.CharFilter(method="filter_patient", help_text="Registry number (or patient id)")
    follow_up = IntegerFilter(field_name="follow_up_id")
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices)
    kind = django_filters.ChoiceFilter(choices=MessageKind.choices)

    class Meta:
        model = OutboundMessage
        fields = ["patient", "follow_up", "status", "kind"]

    def filter_patient(self, queryset, name, value):
        if value.isdigit() and len(value) <= 18:  # an id; longer digit strings cannot be one
            return queryset.filter(patient_id=int(value))
        return queryset.filter(patient__registry_number=value)


class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    """Emails the registry queued, sent or gave up on, for the clinics you can see: delivery per message."""

    serializer_class = MessageSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = MessageFilter

    def get_queryset(self):
        return (
            messages_for(self.request.user)
            .select_related("patient", "follow_up", "link")
            .order_by("-scheduled_for", "-id")
        )
