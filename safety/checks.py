"""A malformed SAFETY_FLAG_RULES stops `manage.py check` (and start-up), not the first evaluation."""

from django.core import checks

from safety.rules import SETTING, configured_rules


@checks.register()
def check_flag_rules(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        configured_rules()
    except ValueError as exc:  # RuleConfigError, or a bad OUTCOME_THRESHOLDS beneath the defaults
        return [checks.Error(str(exc), hint=f"See safety/rules.py for the format of {SETTING}.", id="safety.E001")]
    return []
