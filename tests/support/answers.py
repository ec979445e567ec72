"""Answers to a follow-up's questionnaire, as the patient's form posts them."""

from outcomes import questionnaire
from outcomes.models import FollowUp
from outcomes.services import questionnaire_submit


def answers_for(follow_up: FollowUp, **overrides) -> dict[str, str]:
    """A complete, valid set of posted values for the follow-up's questionnaire (no safety concern). Override
    by input name, e.g. ``answers_for(fu, **{"SAFETY.fever": "yes"})``; None leaves that input out."""
    data = {}
    for instrument in questionnaire.instruments_for(follow_up):
        for item in instrument.items_for_product(questionnaire.product_of(follow_up)):
            name = f"{instrument.code}.{item.code}"
            if item.required_if:
                continue  # asked only after a yes, and every yes/no defaults to no
            if item.type == "choice":
                data[name] = str(item.options[1].score)
            elif item.type == "slider":
                data[name] = "40"
            elif item.type == "yesno":
                data[name] = "no"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def complete(follow_up: FollowUp):
    """The patient answers the whole questionnaire now (through the real service)."""
    follow_up.refresh_from_db()
    return questionnaire_submit(follow_up=follow_up, data=answers_for(follow_up))
