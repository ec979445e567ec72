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

from django.db.models import QuerySet

from registry import doses
from registry.models.patient import age_band
from safety.choices import OUTCOME_CODES, RESOLVED_OUTCOMES, SERIOUSNESS_FIELDS, EventStatus

CHUNK_SIZE = 2000

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
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_on",
    "meddra_code",
    "meddra_version",
    "recorded_at",
    "assessed_at",
    "version",
)

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
    "knee",
    "guidance",
    "volume_ml",
    "kl_grade",
    "bmi",
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
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_e2b_r3",
    "outcome_on",
    "status",
    "meddra_code",
    "meddra_version",
    "recorded_at",
    "assessed_at",
    "version",
]


def _row(values: tuple) -> list:
    v = dict(zip(VALUE_PATHS, values, strict=True))
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
        v["index_injection__knee"],
        v["index_injection__guidance"],
        v["index_injection__volume_ml"],
        v["index_injection__kl_grade"],
        v["index_injection__bmi"],
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
        v["relatedness"],
        v["expectedness"],
        v["action_taken"],
        v["outcome"],
        OUTCOME_CODES[v["outcome"]].e2b_r3,
        v["outcome_on"],
        EventStatus.RESOLVED if v["outcome"] in RESOLVED_OUTCOMES else EventStatus.OPEN,
        v["meddra_code"],
        v["meddra_version"],
        v["recorded_at"],
        v["assessed_at"],
        v["version"],
    ]


def detail_rows(events: QuerySet, *, chunk_size: int = CHUNK_SIZE) -> Iterator[list]:
    """The rows, streamed from the database a chunk at a time."""
    for values in events.values_list(*VALUE_PATHS).iterator(chunk_size=chunk_size):
        yield _row(values)
