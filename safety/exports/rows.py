"""One pseudonymised row per adverse event, shared by the CSV, the XLSX detail sheet and the export tests.

Values stay Python values (dates, Decimals, booleans): each format writes them its own way. On PostgreSQL the CSV
is written by the database instead (safety.exports.csv_export computes these same columns in SQL, byte for byte).

Rows are read with `values_list(...).iterator(chunk_size=...)` (a server-side cursor on PostgreSQL), so an
export holds one chunk in memory however many events it covers. The patient appears as the registry number,
sex and an age band at the injection (registry.pseudonymise's rules): never a name, email, phone, year of birth
or token. Free-text protocol notes are left out (they may name people).
"""

from collections.abc import Iterator

from django.db.models import QuerySet

from registry import selection
from registry.models.component import export_descriptions
from registry.models.patient import age_band
from safety.choices import OUTCOME_CODES, RESOLVED_OUTCOMES, SERIOUSNESS_FIELDS, EventStatus

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
    "components",  # every product of the injection, with route and volume (product is the principal one)
    "knee",
    "guidance",
    "volume_ml",
    "kl_grade",
    "bmi",
    *SELECTION_COLUMNS,
    *PROTOCOL_COLUMNS,
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


def _listed(value):
    """A list of codes (the KL compartments) as one cell, "medial;patellofemoral"; empty as nothing."""
    return (";".join(value) or None) if isinstance(value, list) else value


def _row(values: tuple, components: str | None = None) -> list:
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
        components,
        v["index_injection__knee"],
        v["index_injection__guidance"],
        v["index_injection__volume_ml"],
        v["index_injection__kl_grade"],
        v["index_injection__bmi"],
        *(_listed(v[f"index_injection__{name}"]) for name in SELECTION_COLUMNS),
        *(protocol.get(name) for name in PROTOCOL_COLUMNS),
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
    chunk: list[tuple] = []
    for values in events.values_list(*VALUE_PATHS).iterator(chunk_size=chunk_size):
        chunk.append(values)
        if len(chunk) == chunk_size:
            yield from _with_components(chunk)
            chunk = []
    yield from _with_components(chunk)


_INJECTION = VALUE_PATHS.index("index_injection_id")


def _with_components(chunk: list[tuple]) -> Iterator[list]:
    """Rows of one chunk, each with its injection's components (one query a chunk, not one a row)."""
    described = export_descriptions({values[_INJECTION] for values in chunk}) if chunk else {}
    for values in chunk:
        yield _row(values, described.get(values[_INJECTION]))
