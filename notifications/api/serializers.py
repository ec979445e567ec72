from rest_framework import serializers

from notifications.models import OutboundMessage


class MessageSerializer(serializers.ModelSerializer):
    patient = serializers.SlugRelatedField(slug_field="registry_number", read_only=True)
    delivery = serializers.SerializerMethodField()
    delivery_label = serializers.SerializerMethodField()

    class Meta:
        model = OutboundMessage
        fields = [
            "id",
            "kind",
            "status",
            "delivery",
            "delivery_label",
            "clinic",
            "patient",
            "follow_up",
            "recipient",
            "scheduled_for",
            "sent_at",
            "attempts",
            "last_error",
            "cancelled_reason",
            "created_at",
        ]
        read_only_fields = fields

    def get_delivery(self, message) -> str:
        return message.delivery_state()[0]

    def get_delivery_label(self, message) -> str:
        return message.delivery_state()[1]
