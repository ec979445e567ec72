"""What a user may read of consultations (registry.scoping decides the clinics), and the clinic-level counts."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from consultations.choices import Decision
from consultations.models import Consultation
from outcomes.analysis.cohort import cohort
from outcomes.analysis.expectation import KneeProfile, expectation
from outcomes.models import Timepoint
from registry.scoping import clinics_for

KL_GRADES = range(0, 5)


def consultations_for(user, *, write: bool = False) -> QuerySet[Consultation]:
    return Consultation.objects.filter(patient__clinic__in=clinics_for(user, write=write).values("id"))


@dataclass(frozen=True)
class DecisionCounts:
    kl_grade: int | None  # None: the clinic's total
    consultations: int
    proceed: int
    advise_against: int
    undecided: int

    @property
    def advise_against_percent(self) -> float | None:
        return None if not self.consultations else round(100 * self.advise_against / self.consultations, 1)


@dataclass(frozen=True)
class ClinicDecisions:
    clinic_id: int
    clinic_name: str
    rows: list[DecisionCounts]  # one per KL grade 0-4 (zeros included), then the total


def decisions_by_kl_grade(user) -> list[ClinicDecisions]:
    """How often each of the user's clinics proceeded, advised against or stayed undecided, by KL grade: one
    grouped query (counts with filters in SQL), so the consultations that ended without an injection are counted
    beside those that led to one. Clinics with no consultation are left out."""
    grouped = (
        Consultation.objects.filter(patient__clinic__in=clinics_for(user).values("id"))
        .values("patient__clinic_id", "patient__clinic__name", "kl_grade")
        .annotate(
            consultations=Count("id"),
            proceed=Count("id", filter=Q(decision=Decision.PROCEED)),
            advise_against=Count("id", filter=Q(decision=Decision.ADVISE_AGAINST)),
            undecided=Count("id", filter=Q(decision=Decision.UNDECIDED)),
        )
        .order_by("patient__clinic__name", "patient__clinic_id", "kl_grade")
    )
    clinics: dict[int, tuple[str, dict[int, DecisionCounts]]] = {}
    for row in grouped:
        name, by_grade = clinics.setdefault(row["patient__clinic_id"], (row["patient__clinic__name"], {}))
        by_grade[row["kl_grade"]] = DecisionCounts(
            row["kl_grade"], row["consultations"], row["proceed"], row["advise_against"], row["undecided"]
        )
    out = []
    for clinic_id, (name, by_grade) in clinics.items():
        rows = [by_grade.get(grade) or DecisionCounts(grade, 0, 0, 0, 0) for grade in KL_GRADES]
        total = DecisionCounts(
            None,
            *(sum(getattr(r, f) for r in rows) for f in ("consultations", "proceed", "advise_against", "undecided")),
        )
        out.append(ClinicDecisions(clinic_id, name, [*rows, total]))
    return out


# The follow-ups the registry collects, by month: a review point is compared at the latest one not after it.
_TIMEPOINT_MONTHS = ((24, Timepoint.TWENTY_FOUR_MONTHS), (12, Timepoint.TWELVE_MONTHS), (6, Timepoint.SIX_MONTHS))


def review_timepoint(review_after_months: int | None) -> str:
    """The follow-up whose outcomes describe a review after this many months (6 months when none is planned)."""
    months = review_after_months or 6
    return next((str(tp) for at, tp in _TIMEPOINT_MONTHS if months >= at), str(Timepoint.ONE_MONTH))


def consultation_expectation(consultation: Consultation, user) -> dict:
    """ "Knees like mine" for this consultation (outcomes.analysis.expectation): knees of the same KL band and age
    band that the user's clinics treated, for the proposed product first and every other product beside it, at
    the follow-up of the consultation's review point, protected as for a patient's eyes."""
    profile = KneeProfile(
        kl_grade=consultation.kl_grade,
        age=consultation.age_at_consultation,
        product=consultation.proposed_product or None,
    )
    return expectation(cohort(user), profile, timepoint=review_timepoint(consultation.review_after_months))
