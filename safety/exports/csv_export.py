"""CSV: one line per event, streamed in chunks of about 64 KB, written by PostgreSQL or, elsewhere, by Python.

On PostgreSQL the database writes the file: `COPY (SELECT <every column computed in SQL> ...) TO STDOUT (FORMAT
csv)` through psycopg's cursor.copy(), relayed as it arrives. Building each row in Python (the other path, used
on SQLite: the embedded demo) tops out at tens of thousands of rows a second; COPY writes hundreds of thousands.

Both paths write the same bytes for the same events (tests/safety/test_csv_copy.py compares them), so they share
these conventions, chosen because COPY can produce them:
- NULL and an empty string are both an empty, unquoted cell (the SQL wraps text in NULLIF(..., '')).
- A cell is quoted only when it holds a comma, a double quote, CR or LF (COPY's rule); lines end with "\n".
- true/false; dates YYYY-MM-DD; timestamps in UTC as YYYY-MM-DDTHH:MM:SSZ (whole seconds); decimals as stored
  (6.0); numbers from the protocol JSON as PostgreSQL prints them.
- A text cell starting with = + - @ tab or CR gets a leading apostrophe, so a spreadsheet keeps it as text.
- With ``bom``, the file starts with a UTF-8 byte-order mark, which Excel needs to read it as UTF-8
  (registry.downloads): both paths put it before the header.
The SQL's CASE expressions are generated from the Python constants (AGE_BANDS, OUTCOME_CODES, RESOLVED_OUTCOMES),
and the rows are those of the scoped, filtered queryset: its own SQL is what the SELECT reads from.
"""

import csv
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import BooleanField, CharField, DateField, DateTimeField, QuerySet, TextField

from registry.downloads import BOM
from registry.models import Clinic, Injection, Patient
from registry.models.patient import AGE_BANDS, age_band
from safety.choices import OUTCOME_CODES, RESOLVED_OUTCOMES, SERIOUSNESS_FIELDS, EventStatus
from safety.exports.rows import (
    DERIVED_COLUMNS,
    HEADER,
    PROTOCOL_COLUMNS,
    SELECTION_COLUMNS,
    SUSAR_PATHS,
    DerivedColumn,
    detail_rows,
)
from safety.models import AdverseEvent, RegulatoryReport

CHUNK_BYTES = 64 * 1024
# A cell starting with one of these is a formula to a spreadsheet: prefix it so it stays text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # and 'YYYY-MM-DD"T"HH24:MI:SS"Z"' in SQL, both truncating to the second


def copy_available(events: QuerySet) -> bool:
    """Whether the database can write this export itself (PostgreSQL through psycopg 3)."""
    if connections[events.db].vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def csv_chunks(events: QuerySet, *, on_done: Callable[[int], None] | None = None, bom: bool = False) -> Iterator[bytes]:
    """The header, then one line per event, in chunks of about CHUNK_BYTES. `on_done(rows)` is called once the
    last row is out (not if the download stops half-way). `bom`: start with the byte-order mark."""
    chunks = _copy_chunks(events, bom=bom) if copy_available(events) else _python_chunks(events, bom=bom)
    rows = yield from chunks
    if on_done is not None:
        on_done(rows)


# --- Python: the rows of safety.exports.rows, formatted cell by cell ---------------------------------------------


class _Line:
    def write(self, value: str) -> str:
        return value


def _line_writer() -> Callable[[list], str]:
    """Lines quoted as COPY quotes them: a cell with CR is quoted too, which csv does only when CR is in the line
    terminator, so write "\r\n" and keep one "\n"."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    return lambda cells: writer.writerow(cells)[:-2] + "\n"


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):  # a JSON number: PostgreSQL prints it in plain notation, e.g. 1e+16 in full
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _header(bom: bool) -> str:
    return (BOM if bom else "") + _line_writer()(HEADER)


def _python_chunks(events: QuerySet, *, bom: bool = False) -> Iterator[bytes]:
    write_line = _line_writer()
    parts = [_header(bom)]
    size = len(parts[0])
    rows = 0
    for rows, row in enumerate(detail_rows(events), start=1):  # noqa: B007 - the count is returned
        line = write_line([_cell(v) for v in row])
        parts.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode()
    return rows


# --- PostgreSQL: the same columns computed in SQL, written by COPY ------------------------------------------------

_ALIASES = {AdverseEvent: "e", Clinic: "c", Patient: "p", Injection: "i"}


def _quote(text: str) -> str:
    """A SQL string literal of one of our own constants (standard_conforming_strings: only ' is special)."""
    if "\\" in text or "\x00" in text:
        raise ValueError(f"not a plain constant: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def _guarded(expr: str) -> str:
    """Free text: the formula guard, and '' as NULL (an unquoted empty cell, as Python writes it)."""
    codes = ", ".join(str(ord(c)) for c in FORMULA_START)
    return f"CASE WHEN ascii({expr}) IN ({codes}) THEN '''' || ({expr}) ELSE NULLIF({expr}, '') END"


def _safe_choices(field) -> bool:
    """A choice column (held to its choices by a CheckConstraint) none of whose values a spreadsheet would take for
    a formula: it needs no guard."""
    return bool(field.choices) and not any(str(value).startswith(FORMULA_START) for value, _ in field.flatchoices)


def _column(path: str) -> str:
    """SQL for a rows.VALUE_PATHS path ("patient__sex"), formatted as _cell formats its Python value."""
    model, *relations, name = [AdverseEvent, *path.split("__")]
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    field = model._meta.get_field(name)
    expr = f"{_ALIASES[model]}.{connections['default'].ops.quote_name(field.column)}"
    if isinstance(field, BooleanField):
        return f"{expr}::text"  # 'true' / 'false'
    if isinstance(field, DateTimeField):
        return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    if isinstance(field, DateField):
        return f"to_char({expr}, 'YYYY-MM-DD')"
    if isinstance(field, CharField | TextField):
        return f"NULLIF({expr}, '')" if _safe_choices(field) else _guarded(expr)
    return expr  # numbers: PostgreSQL prints integers and numerics (with their scale, 6.0) as Python does


def _protocol(key: str) -> str:
    # Only JSON strings are guarded: a negative number stays a number (Python guards str values only).
    value = f"(i.protocol->>{_quote(key)})"  # parenthesised: || and ->> bind alike, left to right
    codes = ", ".join(str(ord(c)) for c in FORMULA_START)
    return (
        f"CASE WHEN ascii({value}) IN ({codes}) AND jsonb_typeof(i.protocol->{_quote(key)}) = 'string' "
        f"THEN '''' || {value} ELSE NULLIF({value}, '') END"
    )


def _components() -> str:
    """registry.models.component.export_descriptions, in SQL: numeric(5,1) prints as Python's Decimal does."""
    return (
        "(SELECT string_agg(c.product || ' ' || c.route || ' ' || c.volume_ml::text || ' mL', ' + ' "
        'ORDER BY c.position) FROM "registry_injectioncomponent" c WHERE c.injection_id = i.id)'
    )


def _selection(name: str) -> str:
    if name == "kl_compartments":  # a JSON list of codes, joined as rows._listed joins it
        codes = "SELECT c FROM jsonb_array_elements_text(i.kl_compartments) WITH ORDINALITY AS t(c, n) ORDER BY n"
        return f"NULLIF(array_to_string(ARRAY({codes}), ';'), '')"
    return _column(f"index_injection__{name}")


def _derived(column: DerivedColumn) -> str:
    """rows.derived_cell in SQL: the protocol number × the volume injected ÷ the divisor, rounded half up."""
    key = _quote(column.key)
    return (
        f"CASE WHEN i.product = {_quote(column.product)} AND jsonb_typeof(i.protocol->{key}) = 'number' "
        f"THEN round((i.protocol->>{key})::numeric * i.volume_ml / {column.divisor}, {column.places}) END"
    )


def _age_band() -> str:
    whens = " ".join(
        f"WHEN i.age_at_injection BETWEEN {low} AND {high} THEN {_quote(age_band(low))}" for low, high in AGE_BANDS
    )
    return f"CASE {whens} END"


def _outcome_code() -> str:
    whens = " ".join(f"WHEN {_quote(outcome)} THEN {_quote(codes.e2b_r3)}" for outcome, codes in OUTCOME_CODES.items())
    return f"CASE e.outcome {whens} END"


def _reports_join() -> str:
    """Every event's reports as rows.report_line writes them, oldest first, joined with "; ": one grouped scan
    of the reports, hash-joined to the events (a subquery per event probed the reports a million times)."""
    quote = connections["default"].ops.quote_name
    table = quote(RegulatoryReport._meta.db_table)
    line = "to_char(r.submitted_on, 'YYYY-MM-DD') || ' ' || r.kind || ' ' || r.route || ' ' || r.reference"
    grouped = f"SELECT r.event_id, string_agg({line}, '; ' ORDER BY r.submitted_on, r.id) AS lines FROM {table} r"  # noqa: S608 - own names
    return f"LEFT JOIN ({grouped} GROUP BY r.event_id) rr ON rr.event_id = e.{quote('id')}"


def _status() -> str:
    resolved = ", ".join(_quote(outcome) for outcome in RESOLVED_OUTCOMES)
    return (
        f"CASE WHEN e.outcome IN ({resolved}) THEN {_quote(EventStatus.RESOLVED)} ELSE {_quote(EventStatus.OPEN)} END"
    )


@functools.cache
def select_columns() -> list[tuple[str, str]]:
    """(header, SQL) for every CSV column, in rows.HEADER's order."""
    columns = [
        ("event_id", _column("id")),
        ("clinic_id", _column("clinic_id")),
        ("clinic", _column("clinic__name")),
        ("registry_number", _column("patient__registry_number")),
        ("sex", _column("patient__sex")),
        ("age_band", _age_band()),
        ("injection_id", _column("index_injection_id")),
        ("injected_on", _column("index_injection__injected_on")),
        ("days_to_onset", "e.onset_on - i.injected_on"),
        ("product", _column("index_injection__product")),
        ("components", _components()),
        ("knee", _column("index_injection__knee")),
        ("guidance", _column("index_injection__guidance")),
        ("volume_ml", _column("index_injection__volume_ml")),
        ("kl_grade", _column("index_injection__kl_grade")),
        ("bmi", _column("index_injection__bmi")),
        *((name, _selection(name)) for name in SELECTION_COLUMNS),
        *((name, _protocol(name)) for name in PROTOCOL_COLUMNS),
        *((column.name, _derived(column)) for column in DERIVED_COLUMNS),
        ("source", _column("source")),
        ("flag_id", _column("flag_id")),
        ("onset_on", _column("onset_on")),
        ("category", _column("category")),
        ("description", _column("description")),
        ("severity_ctcae", _column("severity")),
        *((field.removeprefix("serious_"), _column(field)) for field in SERIOUSNESS_FIELDS),
        ("serious", _column("is_serious")),
        ("causality_who_umc", _column("causality")),
        ("causality_product", _column("causality_product")),
        ("causality_procedure", _column("causality_procedure")),
        ("causality_assessed_jointly", _column("assessed_jointly")),
        ("relatedness", _column("relatedness")),
        ("expectedness", _column("expectedness")),
        ("action_taken", _column("action_taken")),
        ("outcome", _column("outcome")),
        ("outcome_e2b_r3", _outcome_code()),
        ("outcome_on", _column("outcome_on")),
        ("status", _status()),
        ("meddra_code", _column("meddra_code")),
        ("meddra_version", _column("meddra_version")),
        ("dechallenge", _column("dechallenge")),
        ("dechallenge_abated", _column("dechallenge_abated")),
        ("rechallenge", _column("rechallenge")),
        ("rechallenge_recurred", _column("rechallenge_recurred")),
        ("aware_on", _column("aware_on")),
        # AdverseEventQuerySet.with_susar()'s annotations, selected by copy_sql with the event's own columns.
        ("susar_candidate", "e.susar_candidate::text"),
        ("susar_report_due_on", "CASE WHEN e.susar_candidate THEN to_char(e.susar_due_on, 'YYYY-MM-DD') END"),
        ("regulatory_reports", "rr.lines"),  # NULL without reports: an empty cell, as Python writes ""
        ("recorded_at", _column("recorded_at")),
        ("assessed_at", _column("assessed_at")),
        ("version", _column("version")),
    ]
    if [name for name, _ in columns] != HEADER:
        raise RuntimeError("the SQL columns of the CSV export no longer follow safety.exports.rows.HEADER")
    return columns


def _joins(scope: str) -> str:
    """The scoped queryset's own SQL as the events (`e`), joined to the rows the columns read. A derived table,
    not `e.id IN (...)`: the planner flattens it into one scan, where IN probed the events' key a million times."""
    quote = connections["default"].ops.quote_name
    event = AdverseEvent._meta
    parts = [f"({scope}) e"]
    for fk in ("clinic", "patient", "index_injection"):
        field = event.get_field(fk)
        target = field.related_model
        parts.append(
            f"JOIN {quote(target._meta.db_table)} {_ALIASES[target]} "
            f"ON {_ALIASES[target]}.{quote(target._meta.pk.column)} = e.{quote(field.column)}"
        )
    parts.append(_reports_join())
    return "\n".join(parts)


def _order_by(events: QuerySet) -> str:
    quote = connections[events.db].ops.quote_name
    ordering = events.query.order_by or (AdverseEvent._meta.ordering if events.query.default_ordering else ())
    terms = []
    for term in ordering:
        if not isinstance(term, str) or "__" in term:
            raise ValueError(f"the CSV export orders by the event's own fields only, not {term!r}")
        name = term.removeprefix("-")
        field = AdverseEvent._meta.pk if name == "pk" else AdverseEvent._meta.get_field(name)
        terms.append(f"e.{quote(field.column)}{' DESC' if term.startswith('-') else ''}")
    return f"\nORDER BY {', '.join(terms)}" if terms else ""


def copy_sql(events: QuerySet) -> str:
    """The COPY statement of these events, in their order, with the parameters of their WHERE bound client-side
    (COPY takes no server-side parameters; psycopg's ClientCursor.mogrify, through Django, quotes them)."""
    connection = connections[events.db]
    # Every column of the event under its own name (values() does not alias a field named as its column).
    own = (
        events.order_by()
        .with_susar()
        .values(*(field.attname for field in AdverseEvent._meta.concrete_fields), *SUSAR_PATHS)
    )
    scope, params = own.query.get_compiler(connection=connection).as_sql()
    columns = ",\n  ".join(expr for _, expr in select_columns())
    statement = f"COPY (SELECT\n  {columns}\nFROM {_joins(scope)}{_order_by(events)})\nTO STDOUT (FORMAT csv)"
    return connection.ops.compose_sql(statement, params)


def _copy_chunks(events: QuerySet, *, bom: bool = False) -> Iterator[bytes]:
    buffer = bytearray(_header(bom).encode())
    try:
        statement = copy_sql(events)
    except EmptyResultSet:  # a filter no event can match (e.g. an empty list): Django sends no query either
        yield bytes(buffer)
        return 0
    # A transaction only to scope SET LOCAL (COPY is one statement, one snapshot, either way). No JIT: its cost
    # estimate crosses the thresholds for inlining and optimisation, and compiling took seconds in every worker
    # (a third of a million-row export) to save less.
    with transaction.atomic(using=events.db), connections[events.db].cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        # COPY hands over one row at a time; relay them in chunks. Leaving early (a download stopped) cancels it.
        with raw.copy(statement) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
        rows = raw.rowcount
    if buffer:
        yield bytes(buffer)
    return rows
