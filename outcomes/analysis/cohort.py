"""The analysis cohort: treatment plans the user may see, one row each, with the joins every statistic needs."""

from __future__ import annotations

from django.db.models import Case, CharField, F, FilteredRelation, Q, QuerySet, Value, When

from outcomes.analysis.expressions import TIMEPOINTS, follow_up_alias, row_aliases
from outcomes.models import FollowUp
from registry.choices import InjectionStatus
from registry.models import TreatmentPlan
from registry.models.patient import AGE_BANDS, age_band
from registry.scoping import plans_for


def _first_injection() -> FilteredRelation:
    return FilteredRelation("injections", condition=Q(injections__number_in_plan=1))


def cohort(user) -> QuerySet[TreatmentPlan]:
    """The plans the user may analyse: theirs by registry.scoping, first injection given, patient consenting to
    analysis. Annotated with ``first`` (the first injection) for the filters; no outcome joins, so it is cheap
    to narrow and to use as the id list of ``outcome_rows``."""
    return (
        plans_for(user)
        .annotate(first=_first_injection())
        .filter(first__status=InjectionStatus.GIVEN, patient__consent_registry=True)
    )


def outcome_rows(plan_ids) -> QuerySet[TreatmentPlan]:
    """Plans whose id is in ``plan_ids`` (a queryset of ids, or raw SQL), joined to their first injection
    (``first``) and to their follow-up and its submission at each timepoint (``fu_baseline``, ``fu_1m``,
    ``fu_6m``), with the per-plan columns of ``row_aliases``. Each join matches at most one row (unique plan and
    number, unique plan and timepoint), so a plan stays one row and every aggregate counts plans."""
    joins = {
        follow_up_alias(tp): FilteredRelation("follow_ups", condition=Q(follow_ups__timepoint=tp)) for tp in TIMEPOINTS
    }
    return (
        TreatmentPlan.objects.annotate(first=_first_injection(), **joins).filter(pk__in=plan_ids).alias(**row_aliases())
    )


def follow_up_rows(plan_ids) -> QuerySet[FollowUp]:
    """The follow-ups of the plans in ``plan_ids``, one row each, joined to their plan's first injection
    (``first``): completion counts need nothing more, so they scan follow-ups rather than plans."""
    first = FilteredRelation("plan__injections", condition=Q(plan__injections__number_in_plan=1))
    return FollowUp.objects.annotate(first=first).filter(plan_id__in=plan_ids)


def age_band_expression() -> Case:
    return Case(
        *[
            When(first__age_at_injection__gte=low, first__age_at_injection__lte=high, then=Value(age_band(low)))
            for low, high in AGE_BANDS
        ],
        default=Value(""),
        output_field=CharField(),
    )


# What each "compare by" choice groups on. Ids (clinic, clinician) are named after the query, in one lookup.
GROUP_EXPRESSIONS = {
    "product": lambda: F("product"),
    "kl_grade": lambda: F("first__kl_grade"),
    "age_band": age_band_expression,
    "staged": lambda: Case(
        When(planned_injections__gt=1, then=Value("staged")), default=Value("single"), output_field=CharField()
    ),
    "clinic": lambda: F("patient__clinic_id"),
    "clinician": lambda: F("first__clinician_id"),
}
