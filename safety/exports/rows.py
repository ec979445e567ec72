"""One pseudonymised row per adverse event, shared by the CSV, the XLSX detail sheet and the export tests.

Values stay Python values (dates, Decimals, booleans): each format writes them its own way. On PostgreSQL the CSV
is written by the database instead (safety.exports.csv_export computes these same columns in SQL, byte for byte).

Rows are read with `values_list(...).iterator(chunk_size=...)` (a server-side cursor on PostgreSQL), so an
export holds one chunk in memory however many events it covers. The patient appears as the registry number,
sex and an age band at the injection (registry.pseudonymise's rules): never a name, email, phone, year of birth
or token. Free-text protocol notes are left out (they may name people).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice

from django.db.models import QuerySet

from registry import doses, selection
from registry.models.component import export_descriptions
from registry.models.patient import age_band
from safety.choices import OUTCOME_CODES, RESOLVED_OUTCOMES, SERIOUSNESS_FIELDS, EventStatus
from safety.models import RegulatoryReport

CHUNK_SIZE = 2000

# Selection and risk factors of the index injection (registry.selection), free text left out.
SELECTION_COLUMNS = tuple(f for f in selection.NEW_FIELDS if f not in selection.FREE_TEXT)

# Protocol essentials worth comparing across events (each product fills its own; the others stay empty).
PROTOCOL_COLUMNS = (
    "harvest_site",
    "aspirate_volume_ml",
    "processing_system",
    "processing_method",
    "concentrate_volume_ml",
    "tnc_per_ml",
    "leukocytes",
    "preparation_system",
    "product_name",
    "drug",
    "dose_mg",
    "manufacturer",
    "batch_lot",
    "preparation",
    "lipoaspirate_volume_ml",
)


# --- Derived from the protocol and the volume injected (registry.doses); the COPY export computes the same in SQL.
@dataclass(frozen=True)
class DerivedColumn:
    name: str
    product: str
    key: str  # the protocol count it multiplies by the volume injected
    divisor: int  # unit conversion, e.g. ×10³/µL × mL -> ×10⁹ is ÷ 1000
    places: int  # rounded half up to this many decimals (as PostgreSQL's round() does)
    compute: Callable


DERIVED_COLUMNS = (
    DerivedColumn("total_tnc_e6", "bmac", "tnc_per_ml", 1, 3, doses.total_cells_millions),
    DerivedColumn("platelet_dose_e9", "prp", "platelet_count", 1000, 3, doses.platelet_dose_billions),
    DerivedColumn("particle_dose", "exosome", "particle_concentration", 1, 0, doses.exosome_dose_particles),
)


def derived_cell(column: DerivedColumn, product: str, protocol: dict, volume_ml) -> Decimal | None:
    value = protocol.get(column.key)
    if product != column.product or isinstance(value, bool) or not isinstance(value, int | float) or volume_ml is None:
        return None  # only numbers are computed (the SQL checks jsonb_typeof the same way)
    result = column.compute(value, volume_ml)
    return result.quantize(Decimal(1).scaleb(-column.places), rounding=ROUND_HALF_UP)


# The fields each row reads (database paths), in order; the COPY export and its benchmark read them too.
VALUE_PATHS = (
    "id",
    "clinic_id",
    "clinic__name",
    "patient__registry_number",
    "patient__sex",
    "index_injection__age_at_injection",
    "index_injection_id",
    "index_injection__injected_on",
    "index_injection__product",
    "index_injection__knee",
    "index_injection__guidance",
    "index_injection__volume_ml",
    "index_injection__kl_grade",
    "index_injection__bmi",
    *(f"index_injection__{name}" for name in SELECTION_COLUMNS),
    "index_injection__protocol",
    "source",
    "flag_id",
    "onset_on",
    "category",
    "description",
    "severity",
    *SERIOUSNESS_FIELDS,
    "is_serious",
    "causality",
    "causality_product",
    "causality_procedure",
    "assessed_jointly",
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_on",
    "meddra_code",
    "meddra_version",
    "dechallenge",
    "dechallenge_abated",
    "rechallenge",
    "rechallenge_recurred",
    "aware_on",
    "recorded_at",
    "assessed_at",
    "version",
)
# Annotations of AdverseEventQuerySet.with_susar(), read after the paths (the COPY export reads them too).
SUSAR_PATHS = ("susar_candidate", "susar_due_on")

HEADER = [
    "event_id",
    "clinic_id",
    "clinic",
    "registry_number",
    "sex",
    "age_band",
    "injection_id",
    "injected_on",
    "days_to_onset",
    "product",
    "components",  # every product of the injection, with route and volume (product is the principal one)
    "knee",
    "guidance",
    "volume_ml",
    "kl_grade",
    "bmi",
    *SELECTION_COLUMNS,
    *PROTOCOL_COLUMNS,
    *(column.name for column in DERIVED_COLUMNS),
    "source",
    "flag_id",
    "onset_on",
    "category",
    "description",
    "severity_ctcae",
    *(field.removeprefix("serious_") for field in SERIOUSNESS_FIELDS),
    "serious",
    "causality_who_umc",
    "causality_product",
    "causality_procedure",
    "causality_assessed_jointly",
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_e2b_r3",
    "outcome_on",
    "status",
    "meddra_code",
    "meddra_version",
    "dechallenge",
    "dechallenge_abated",
    "rechallenge",
    "rechallenge_recurred",
    "aware_on",
    "susar_candidate",
    "susar_report_due_on",
    "regulatory_reports",
    "recorded_at",
    "assessed_at",
    "version",
]


def report_line(submitted_on, kind: str, route: str, reference: str) -> str:
    """One report in the `regulatory_reports` cell, e.g. "2026-12-03 initial mhra_yellow_card GB-123" (the COPY
    export builds the same text in SQL); several are joined with "; ", oldest first."""
    return f"{submitted_on.isoformat()} {kind} {route} {reference}"


def _reports(event_ids: list[int]) -> dict[int, str]:
    lines: dict[int, list[str]] = {}
    reports = RegulatoryReport.objects.filter(event_id__in=event_ids).order_by("event_id", "submitted_on", "id")
    for event_id, *fields in reports.values_list("event_id", "submitted_on", "kind", "route", "reference"):
        lines.setdefault(event_id, []).append(report_line(*fields))
    return {event_id: "; ".join(found) for event_id, found in lines.items()}


def _listed(value):
    """A list of codes (the KL compartments) as one cell, "medial;patellofemoral"; empty as nothing."""
    return (";".join(value) or None) if isinstance(value, list) else value


def _row(values: tuple, reports: dict[int, str], components: str | None = None) -> list:
    v = dict(zip((*VALUE_PATHS, *SUSAR_PATHS), values, strict=True))
    protocol = v["index_injection__protocol"] or {}
    injected_on = v["index_injection__injected_on"]
    return [
        v["id"],
        v["clinic_id"],
        v["clinic__name"],
        v["patient__registry_number"],
        v["patient__sex"],
        age_band(v["index_injection__age_at_injection"]),
        v["index_injection_id"],
        injected_on,
        (v["onset_on"] - injected_on).days if injected_on else None,
        v["index_injection__product"],
        components,
        v["index_injection__knee"],
        v["index_injection__guidance"],
        v["index_injection__volume_ml"],
        v["index_injection__kl_grade"],
        v["index_injection__bmi"],
        *(_listed(v[f"index_injection__{name}"]) for name in SELECTION_COLUMNS),
        *(protocol.get(name) for name in PROTOCOL_COLUMNS),
        *(
            derived_cell(column, v["index_injection__product"], protocol, v["index_injection__volume_ml"])
            for column in DERIVED_COLUMNS
        ),
        v["source"],
        v["flag_id"],
        v["onset_on"],
        v["category"],
        v["description"],
        v["severity"],
        *(v[field] for field in SERIOUSNESS_FIELDS),
        v["is_serious"],
        v["causality"],
        v["causality_product"],
        v["causality_procedure"],
        v["assessed_jointly"],
        v["relatedness"],
        v["expectedness"],
        v["action_taken"],
        v["outcome"],
        OUTCOME_CODES[v["outcome"]].e2b_r3,
        v["outcome_on"],
        EventStatus.RESOLVED if v["outcome"] in RESOLVED_OUTCOMES else EventStatus.OPEN,
        v["meddra_code"],
        v["meddra_version"],
        v["dechallenge"],
        v["dechallenge_abated"],
        v["rechallenge"],
        v["rechallenge_recurred"],
        v["aware_on"],
        v["susar_candidate"],
        v["susar_due_on"] if v["susar_candidate"] else None,
        reports.get(v["id"], ""),
        v["recorded_at"],
        v["assessed_at"],
        v["version"],
    ]


def detail_rows(events: QuerySet, *, chunk_size: int = CHUNK_SIZE) -> Iterator[list]:
    """The rows, streamed from the database a chunk at a time (each chunk's reports, and its injections'
    components, in one more query each: not one a row)."""
    values = events.with_susar().values_list(*VALUE_PATHS, *SUSAR_PATHS).iterator(chunk_size=chunk_size)
    while chunk := list(islice(values, chunk_size)):
        reports = _reports([row[0] for row in chunk])
        described = export_descriptions({row[_INJECTION] for row in chunk})
        for row in chunk:
            yield _row(row, reports, described.get(row[_INJECTION]))


_INJECTION = VALUE_PATHS.index("index_injection_id")
