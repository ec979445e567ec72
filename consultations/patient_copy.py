"""The patient's copy of a consultation (issue 16): what it says, in words a patient can read at home.

One content builder for the page and the PDF, so they cannot drift apart. What goes on it
- the knee and the date, the decision in words, the options talked about, and (when going ahead) the fallback plan:
  from the consultation's coded answers only. The clinician's free-text reasoning is left off: it may name people.
  Where the patient was referred to (a short field) is shown, as the patient needs it.
- "knees like yours": outcomes.analysis.expectation over the consultation's clinic (outcomes.analysis.cohort.
  clinic_cohort), for the proposed product and the injections talked about, all with the same reference group
  rules, timepoint and small-number protection as the clinician's page. Nothing on it is about one other person.
- the course without an injection and the published evidence: the clinic's own words (DecisionAidText), with a
  default for the first.
- the date the figures were worked out: they are worked out again on every request (page or PDF).
Reading grade 8 or lower: tests/consultations/test_patient_copy_readability.py checks the rendered page.

In the patient's language (issue 17): built under translation.override of the patient's language by its views, so
every phrase here is translated (gettext_noop tables, translated where used: tests compare with the English
constants) and dates name the month in that language. The clinic's own words (DecisionAidText) are shown as written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from consultations.choices import Alternative, Decision, FallbackOffer, NotImprovedRule
from consultations.models import Consultation, DecisionAidText
from consultations.selectors import review_timepoint
from outcomes.analysis.cohort import clinic_cohort
from outcomes.analysis.expectation import WHEN, KneeProfile, expectation, option_sentences
from registry.choices import Product

DEFAULT_WITHOUT_INJECTION = gettext_noop(
    "Arthritis of the knee often changes slowly. Most people have good days and bad days. "
    "Without an injection, the pain may stay about the same for a long time. It can also get a bit better or a "
    "bit worse. Exercise that makes the muscles around the knee strong helps many people. So does losing weight, "
    "if you need to, and taking pain pills when you need them. These things are worth doing with or without an "
    "injection. An injection does not cure arthritis. If your knee gets worse, come back and we will talk about "
    "what to do next."
)
NO_REFERENCES = gettext_noop(
    "Your clinic has not added a reading list yet. Ask us if you would like to read the research."
)
UPDATE_POLICY = gettext_noop(
    "We work these numbers out again from the latest data each time you open this page or get the PDF, so they "
    "may change a little as more people answer."
)

# The options talked about, in a patient's words (the consultation's labels are written for staff).
PLAIN_ALTERNATIVES = {
    Alternative.EXERCISE: gettext_noop("exercise with help from a physio"),
    Alternative.WEIGHT: gettext_noop("losing weight"),
    Alternative.ANALGESIA: gettext_noop("pain pills"),
    Alternative.BRACING: gettext_noop("a knee brace"),
    Alternative.STEROID: gettext_noop("a steroid injection"),
    Alternative.HA: gettext_noop("a hyaluronic acid (HA) injection"),
    Alternative.PRP: gettext_noop("a platelet-rich plasma (PRP) injection"),
    Alternative.BMAC: gettext_noop("a bone marrow cell (BMAC) injection"),
    Alternative.SURGICAL_OPINION: gettext_noop("seeing a knee surgeon"),
    Alternative.NO_TREATMENT: gettext_noop("no treatment for now"),
}
# The injections talked about, as the registry's products: the options given figures beside the proposed one.
ALTERNATIVE_PRODUCTS = {
    Alternative.STEROID: Product.CORTICOSTEROID,
    Alternative.HA: Product.HA,
    Alternative.PRP: Product.PRP,
    Alternative.BMAC: Product.BMAC,
}
PLAIN_NOT_IMPROVED = {
    NotImprovedRule.MCID_OR_RESPONDER: gettext_noop(
        "your pain score and your knee score have not clearly got better, or your knee does not pass a common test "
        "of a good response"
    ),
    NotImprovedRule.MCID_KOOS_PAIN: gettext_noop("your pain score has not clearly got better"),
    NotImprovedRule.MCID_OKS: gettext_noop("your knee score has not clearly got better"),
    NotImprovedRule.NOT_RESPONDER: gettext_noop("your knee does not pass a common test of a good response"),
    NotImprovedRule.PATIENT_JUDGEMENT: gettext_noop("you tell us the injection has not helped you enough"),
}
# Whole phrases per knee: languages place the word for "left" differently.
YOUR_KNEE = {"left": gettext_noop("your left knee"), "right": gettext_noop("your right knee")}
TITLES = {
    "left": gettext_noop("Your left knee: what we talked about"),
    "right": gettext_noop("Your right knee: what we talked about"),
}
PLAIN_FALLBACK = {
    FallbackOffer.PHYSIOTHERAPY: gettext_noop("exercise with help from a physio"),
    FallbackOffer.REPEAT_INJECTION: gettext_noop("the same injection again"),
    FallbackOffer.ANOTHER_PRODUCT: gettext_noop("a different kind of injection"),
    FallbackOffer.SURGICAL_REFERRAL: gettext_noop("a visit to a knee surgeon to talk about an operation"),
}


PLAIN_PRODUCTS = {
    Product.BMAC: gettext_noop("bone marrow cells (BMAC)"),
    Product.PRP: gettext_noop("platelet-rich plasma (PRP)"),
    Product.HA: gettext_noop("hyaluronic acid (HA)"),
    Product.CORTICOSTEROID: gettext_noop("a steroid"),
}


def _plain_product(product: str) -> str:
    if product in PLAIN_PRODUCTS:
        return _(PLAIN_PRODUCTS[product])
    return str(Product(product).label).split(" (")[0].lower()


def long_date(day: dt.date) -> str:
    return dateformat.format(day, "j F Y")  # the month's name in the active language


def _your_knee(consultation: Consultation) -> str:
    return _(YOUR_KNEE.get(consultation.knee, YOUR_KNEE["left"]))


def decision_words(consultation: Consultation) -> list[str]:
    knee = _your_knee(consultation)
    if consultation.decision == Decision.PROCEED:
        product = _plain_product(consultation.proposed_product)
        lines = [
            _("We agreed to go ahead with an injection of %(product)s into %(knee)s.")
            % {"product": product, "knee": knee}
        ]
    elif consultation.decision == Decision.ADVISE_AGAINST:
        lines = [_("We advised you not to have an injection into %(knee)s at this time.") % {"knee": knee}]
    else:
        lines = [
            _(
                "You have not yet made up your mind about an injection into %(knee)s. "
                "Take your time. You can talk to us again when you are ready."
            )
            % {"knee": knee}
        ]
    if consultation.referred_to:
        lines.append(_("We suggested you see: %(where)s.") % {"where": consultation.referred_to})
    return lines


def options_compared(consultation: Consultation) -> list[str]:
    """The products given figures: the proposed one first, then the injections talked about (no duplicates)."""
    products = [consultation.proposed_product] if consultation.proposed_product else []
    chosen = set(consultation.alternatives_discussed or [])
    products += [p for code, p in ALTERNATIVE_PRODUCTS.items() if code in chosen]
    return list(dict.fromkeys(products))


def fallback_plan(consultation: Consultation) -> dict[str, Any] | None:
    if not consultation.is_proceeding:
        return None
    months = consultation.review_after_months
    chosen = set(consultation.fallback_offer or [])
    offers = [_(PLAIN_FALLBACK[c]) for c in FallbackOffer.values if c in chosen and c in PLAIN_FALLBACK]
    rule = _(PLAIN_NOT_IMPROVED[consultation.not_improved_rule])
    return {
        "review": ngettext(
            "We will check how your knee is doing about %(months)s month after the injection. We will ask you to fill "
            "in a short form about your knee.",
            "We will check how your knee is doing about %(months)s months after the injection. We will ask you to "
            "fill in a short form about your knee.",
            months,
        )
        % {"months": months},
        "not_improved": _("We will say the injection has not helped if %(rule)s.") % {"rule": rule},
        "offer": (
            _("If it has not helped, we will offer you %(offers)s.") % {"offers": _joined(offers)}
            if offers
            else _(
                "If it has not helped, we agreed not to offer more treatment from this clinic. You can always ask "
                "your family doctor for advice."
            )
        ),
    }


def _joined(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return _("%(some)s or %(last)s") % {"some": ", ".join(items[:-1]), "last": items[-1]}


def _reference_group(result: dict[str, Any], clinic_name: str) -> str:
    profile = result["profile"]
    parts = []
    if profile["kl_band"] == "early":
        parts.append(_("had early arthritis on the X-ray"))
    elif profile["kl_band"] == "advanced":
        parts.append(_("had more advanced arthritis on the X-ray"))
    if profile["age_band"]:
        low, _dash, high = str(profile["age_band"]).partition("-")
        parts.append(
            _("belonged to people aged %(low)s to %(high)s") % {"low": low, "high": high}
            if high
            else _("belonged to people aged %(low)s") % {"low": low}
        )
    when = WHEN.get(result.get("timepoint"))
    words = {"clinic": clinic_name, "when": _(when) if when else result["timepoint_label"]}
    if parts:
        words["who"] = _(" and ").join(parts)
        looked = _("We looked at knees treated at %(clinic)s that, like yours, %(who)s.") % words
    else:
        looked = _("We looked at knees treated at %(clinic)s.") % words
    return (
        looked
        + " "
        + _(
            "We count only knees that were due a check at %(when)s. We use the same rules for each kind of "
            "injection, so you can compare them."
        )
        % words
    )


def knees_like_yours(consultation: Consultation, *, today: dt.date | None = None) -> dict[str, Any] | None:
    """What knees like this one did after each injection compared, worked out now; None when no injection was
    talked about (nothing to compare)."""
    products = options_compared(consultation)
    if not products:
        return None
    profile = KneeProfile(
        kl_grade=consultation.kl_grade,
        age=consultation.age_at_consultation,
        product=consultation.proposed_product or None,
    )
    clinic = consultation.patient.clinic
    today = today or timezone.localtime(timezone.now(), clinic.tzinfo).date()
    result = expectation(
        clinic_cohort(clinic.pk),
        profile,
        options=products,
        timepoint=review_timepoint(consultation.review_after_months if consultation.is_proceeding else None),
        today=today,
    )
    return {
        "timepoint_label": result["timepoint_label"],
        "reference_group": _reference_group(result, clinic.name),
        "options": [
            {
                "product": option["product"],
                "heading": _("After an injection of %(name)s")
                % {
                    "name": _(PLAIN_PRODUCTS[option["product"]])
                    if option["product"] in PLAIN_PRODUCTS
                    else option["name"]
                },
                "enough": option["enough"],
                "lines": option_sentences(result, option),
            }
            for option in result["options"]
        ],
        "as_of": long_date(dt.date.fromisoformat(result["as_of"])),
        "minimum": result["minimum"],
    }


def patient_copy(consultation: Consultation, *, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the patient's copy shows (page and PDF). ``consultation`` with patient__clinic selected."""
    clinic = consultation.patient.clinic
    text = DecisionAidText.objects.filter(clinic=clinic).first()
    discussed = set(consultation.alternatives_discussed or [])
    references = [line.strip() for line in (text.references if text else "").splitlines() if line.strip()]
    return {
        "clinic": clinic,
        "knee": consultation.get_knee_display().lower(),
        "title": _(TITLES.get(consultation.knee, TITLES["left"])),
        "consulted_on": long_date(consultation.consulted_on),
        "decision": decision_words(consultation),
        "alternatives": [_(PLAIN_ALTERNATIVES[c]) for c in Alternative.values if c in discussed],
        "fallback": fallback_plan(consultation),
        "knees": knees_like_yours(consultation, today=today),
        "without_injection": (text.without_injection.strip() if text else "") or _(DEFAULT_WITHOUT_INJECTION),
        "references": references,
        "no_references": _(NO_REFERENCES),
        "update_policy": _(UPDATE_POLICY),
    }
