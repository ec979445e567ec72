"""The analysis cohort: treatment plans the user may see, one row each, with the joins every statistic needs."""

from __future__ import annotations

from django.db.models import Case, CharField, FilteredRelation, Q, QuerySet, Value, When

from outcomes.analysis.expressions import TIMEPOINTS, follow_up_alias, row_aliases
from registry.choices import InjectionStatus
from registry.models import TreatmentPlan
from registry.models.patient import AGE_BANDS, age_band
from registry.scoping import plans_for


def first_injection() -> FilteredRelation:
    return FilteredRelation("injections", condition=Q(injections__number_in_plan=1))


def cohort(user) -> QuerySet[TreatmentPlan]:
    """The plans the user may analyse: theirs by registry.scoping, first injection given, patient consenting to
    analysis. Annotated with ``first`` (the first injection) for the filters; no outcome joins, so it is cheap
    to narrow and to use as the id list of ``outcome_rows``."""
    return _analysable(plans_for(user))


def clinic_cohort(clinic_id: int) -> QuerySet[TreatmentPlan]:
    """The plans of one clinic, as ``cohort`` would give its staff: for a page with no user behind it (the
    patient's copy of a consultation, consultations.patient_copy)."""
    return _analysable(TreatmentPlan.objects.filter(patient__clinic_id=clinic_id))


def _analysable(plans: QuerySet[TreatmentPlan]) -> QuerySet[TreatmentPlan]:
    return plans.annotate(first=first_injection()).filter(
        first__status=InjectionStatus.GIVEN, patient__consent_registry=True
    )


def outcome_rows(plan_ids) -> QuerySet[TreatmentPlan]:
    """Plans whose id is in ``plan_ids`` (a queryset of ids, or raw SQL), joined to their first injection
    (``first``) and to their follow-up and its submission at each timepoint (``fu_baseline``, ``fu_1m``,
    ``fu_6m``), with the per-plan columns of ``row_aliases``. Each join matches at most one row (unique plan and
    number, unique plan and timepoint), so a plan stays one row and every aggregate counts plans."""
    return follow_up_joins(plan_ids).alias(**row_aliases())


def follow_up_joins(plan_ids) -> QuerySet[TreatmentPlan]:
    """``outcome_rows`` before the per-plan columns are named (of every plan when ``plan_ids`` is None)."""
    joins = {
        follow_up_alias(tp): FilteredRelation("follow_ups", condition=Q(follow_ups__timepoint=tp)) for tp in TIMEPOINTS
    }
    plans = TreatmentPlan.objects.annotate(first=first_injection(), **joins)
    return plans if plan_ids is None else plans.filter(pk__in=plan_ids)


def age_band_expression(age: str = "first__age_at_injection") -> Case:
    return Case(
        *[When(**{f"{age}__gte": low, f"{age}__lte": high}, then=Value(age_band(low))) for low, high in AGE_BANDS],
        default=Value(""),
        output_field=CharField(),
    )
