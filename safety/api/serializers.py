from rest_framework import serializers

from safety.models import Flag


class FlagSerializer(serializers.ModelSerializer):
    patient_registry_number = serializers.CharField(source="patient.registry_number", read_only=True)
    timepoint = serializers.CharField(source="follow_up.timepoint", read_only=True, help_text="baseline, 1m or 6m.")
    rule_label = serializers.CharField(source="get_rule_display", read_only=True)
    age_days = serializers.IntegerField(read_only=True, help_text="Whole days since the flag was raised.")
    values = serializers.JSONField(
        read_only=True, help_text="What fired: the answers, or baseline and follow-up scores with the threshold."
    )

    class Meta:
        model = Flag
        fields = [
            "id",
            "clinic",
            "patient",
            "patient_registry_number",
            "follow_up",
            "timepoint",
            "rule",
            "rule_label",
            "urgent",
            "values",
            "status",
            "dismissed_reason",
            "reviewed_by",
            "reviewed_at",
            "raised_at",
            "age_days",
        ]
        read_only_fields = fields
