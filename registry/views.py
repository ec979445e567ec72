"""Clinician pages. Every object is reached through registry.scoping (outside the user's clinics: 404), every write
through registry.services (auditors: 403), and a service's ValidationError is shown next to the field it names."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from registry import prefill, services
from registry.choices import Knee, Product, Route
from registry.forms import (
    EnrolForm,
    InjectionEditForm,
    InjectionForm,
    PatientEditForm,
    WithdrawConsentForm,
    component_forms,
    extra_components_count,
    governance_form,
    protocol_forms,
    service_errors_onto,
    submitted,
    unbound_copy,
)
from registry.models import Injection, InjectionComponent, Patient, TreatmentPlan
from registry.models.component import MAX_COMPONENTS
from registry.protocols import (
    GOVERNANCE_REQUIRED,
    PROTOCOL_FORMS,
    GovernanceForm,
    allow_stored_values,
    validate_governance,
)
from registry.scoping import clinics_for, get_for_user_or_404, injections_for, patients_for
from registry.templatetags.registry_display import display_value

PAGE_SIZE = 25


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    # The landing page (what needs attention today) belongs to the app that reads all the others.
    return redirect(settings.LOGIN_REDIRECT_URL if request.user.is_authenticated else "login")


def _patient(request, registry_number: str, *, write: bool = False) -> Patient:
    patient = get_for_user_or_404(patients_for(request.user).select_related("clinic"), registry_number=registry_number)
    if write and not patients_for(request.user, write=True).filter(pk=patient.pk).exists():
        raise PermissionDenied("Your role in this clinic can read records but not change them.")
    return patient


def _injection(request, pk: int, *, write: bool = False) -> Injection:
    injection = get_for_user_or_404(
        injections_for(request.user)
        .select_related("patient__clinic", "plan", "clinician")
        .prefetch_related("components"),
        pk=pk,
    )
    if write and not injections_for(request.user, write=True).filter(pk=injection.pk).exists():
        raise PermissionDenied("Your role in this clinic can read records but not change them.")
    return injection


# --- Patients ------------------------------------------------------------------------------------------------------


@login_required
@require_safe
def patient_list(request: HttpRequest) -> HttpResponse:
    clinics = list(clinics_for(request.user))
    patients = patients_for(request.user).select_related("clinic").annotate(injection_count=Count("injections"))
    query = request.GET.get("q", "").strip()
    if query:
        patients = patients.filter(
            Q(registry_number__icontains=query) | Q(full_name__icontains=query) | Q(email__icontains=query)
        )
    clinic_id = request.GET.get("clinic", "")
    if clinic_id.isdigit() and any(c.pk == int(clinic_id) for c in clinics):
        patients = patients.filter(clinic_id=int(clinic_id))
    else:
        clinic_id = ""
    page = Paginator(patients.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    filters = {k: v for k, v in (("q", query), ("clinic", clinic_id)) if v}
    return render(
        request,
        "registry/patient_list.html",
        {
            "page": page,
            "query": query,
            "clinics": clinics,
            "clinic_id": clinic_id,
            "filtered": bool(filters),
            "filter_query": urlencode(filters),
        },
    )


@login_required
def patient_enrol(request: HttpRequest) -> HttpResponse:
    clinics = list(clinics_for(request.user, write=True))
    if not clinics:
        raise PermissionDenied("Your role can read records but not enrol patients.")
    form = EnrolForm(request.POST if request.method == "POST" else None, clinics=clinics_for(request.user, write=True))
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_enrol(
                clinic=form.cleaned_data["clinic"], by=request.user, data=form.patient_data()
            )
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, f"Enrolled {patient.full_name or 'patient'} as {patient.registry_number}.")
            return redirect("registry:patient-detail", registry_number=patient.registry_number)
    return render(request, "registry/patient_form.html", {"form": form, "title": "Enrol a patient"})


@login_required
@require_safe
def patient_detail(request: HttpRequest, registry_number: str) -> HttpResponse:
    patient = _patient(request, registry_number)
    plans = list(
        TreatmentPlan.objects.filter(patient=patient)
        .select_related("repeat_of")
        .prefetch_related(
            "repeats",
            Prefetch(
                "injections",
                queryset=Injection.objects.select_related("clinician")
                .prefetch_related("components")
                .order_by("number_in_plan", "injected_on"),
            ),
        )
    )
    knees = [
        {"code": code, "label": f"{label} knee", "plans": [p for p in plans if p.knee == code]}
        for code, label in Knee.choices
    ]
    may_write = patients_for(request.user, write=True).filter(pk=patient.pk).exists()
    return render(request, "registry/patient_detail.html", {"patient": patient, "knees": knees, "may_write": may_write})


@login_required
def patient_edit(request: HttpRequest, registry_number: str) -> HttpResponse:
    patient = _patient(request, registry_number, write=True)
    initial = {name: getattr(patient, name) for name in PatientEditForm.base_fields if name != "reason"}
    form = PatientEditForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(
                patient=patient, by=request.user, data=form.patient_data(), reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, "Patient details saved.")
            return redirect("registry:patient-detail", registry_number=patient.registry_number)
    return render(
        request,
        "registry/patient_form.html",
        {"form": form, "patient": patient, "title": f"Edit details of {patient.registry_number}"},
    )


@login_required
def patient_withdraw(request: HttpRequest, registry_number: str) -> HttpResponse:
    patient = _patient(request, registry_number, write=True)
    form = WithdrawConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not patient.has_withdrawn and form.is_valid():
        try:
            services.patient_withdraw_consent(
                patient=patient,
                by=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, "Consent withdrawn. The patient will not be contacted again.")
            return redirect("registry:patient-detail", registry_number=patient.registry_number)
    return render(request, "registry/patient_withdraw.html", {"form": form, "patient": patient})


# --- Injections ----------------------------------------------------------------------------------------------------


def _injection_forms_valid(form, protocol_form, governance, product, components=()) -> bool:
    """Validate every fieldset at once, so the person sees all problems in one go."""
    valid = form.is_valid()
    if protocol_form is not None:
        valid = protocol_form.is_valid() and valid
    for component in components:
        if component["form"].is_blank():
            continue
        valid = component["form"].is_valid() and valid
        chosen = component["protocols"].get(component["chosen"])
        if chosen is not None:
            valid = chosen.is_valid() and valid
    valid = governance.is_valid() and valid
    if not governance.has_changed():
        # Left blank: allowed unless the product may only be given under a registered study.
        required = validate_governance(product, {})[1].get("__all__")
        if required:
            governance.add_error(None, required)
            valid = False
    return valid


def _injection_payload(form, protocol_form, governance) -> dict:
    return {
        **form.injection_data(),
        "protocol": submitted(protocol_form) if protocol_form is not None else {},
        "governance": submitted(governance),
    }


def _components_payload(form, data: dict, components) -> list[dict]:
    """Component 1 is what the injection's own fields say (its product, volume and protocol); the further
    products follow, in the order typed, skipping rows left blank."""
    principal = {
        "product": data["product"],
        "route": form.cleaned_data["route"] or Route.INTRA_ARTICULAR,
        "site": form.cleaned_data["site"],
        "volume_ml": data.get("volume_ml"),
        "protocol": data["protocol"],
    }
    others = [
        {
            **{name: c["form"].cleaned_data[name] for name in ("product", "route", "site", "volume_ml")},
            "protocol": submitted(c["protocols"][c["chosen"]]) if c["chosen"] in c["protocols"] else {},
        }
        for c in components
        if not c["form"].is_blank()
    ]
    return [principal, *others]


def _error_summary(form, *fieldsets) -> list[dict]:
    """Every error on the page for the summary at the top, each linked to its field (or its fieldset).
    ``fieldsets`` are (form, fieldset id) pairs for the protocol and governance forms."""
    summary = [{"message": m, "anchor": ""} for m in form.non_field_errors()]
    for f, fieldset_id in ((form, ""), *fieldsets):
        if f is None:
            continue
        if f is not form:
            summary += [{"message": m, "anchor": fieldset_id} for m in f.non_field_errors()]
        for name, errors in f.errors.items():
            if name != "__all__" and name in f.fields:
                bound = f[name]
                summary += [{"message": f"{bound.label}: {m}", "anchor": bound.auto_id} for m in errors]
    return summary


def _unusual(
    request, unconfirmed: services.UnconfirmedWarnings | None, protocol_form, form, components=()
) -> list[dict]:
    """Put each unusual value's warning next to its field, and list them for the confirm checkboxes."""
    if unconfirmed is None:
        return []
    acknowledged = set(request.POST.getlist("acknowledged_warnings"))
    by_position = {c["position"]: c["protocols"].get(c["chosen"]) for c in components}
    items = []
    for warning in unconfirmed.warnings:
        position = getattr(warning, "position", 1)
        # Selection factors (registry.selection) are on the injection's own form; protocol values on their
        # component's protocol form.
        if warning.code.startswith("selection."):
            on = form
        else:
            on = protocol_form if position == 1 else by_position.get(position)
        field = on.fields.get(warning.field) if on is not None else None
        if on is not None:
            on.add_error(warning.field if field else None, warning.message)
        typed = on[warning.field].data if field else ""
        unit = getattr(field, "unit", "")
        label = field.label if field else warning.field
        items.append(
            {
                "code": warning.code,
                "label": label if position <= 1 else f"Product {position}: {label}",
                "value": f"{typed} {unit}".strip(),
                "acknowledged": warning.code in acknowledged,
            }
        )
    return items


def _injection_page(
    request, *, patient, form, protocol_by_product, governance, chosen, injection=None, unusual=(), components=()
):
    fieldsets = [
        {"code": code, "label": Product(code).label, "form": f, "chosen": code == chosen}
        for code, f in protocol_by_product.items()
    ]
    chosen_protocol = protocol_by_product.get(chosen)
    component_fieldsets = [(c["form"], f"component-{c['position']}") for c in components] + [
        (c["protocols"].get(c["chosen"]), f"component-{c['position']}") for c in components
    ]
    return render(
        request,
        "registry/injection_form.html",
        {
            "patient": patient,
            "injection": injection,
            "form": form,
            "protocol_fieldsets": fieldsets,
            "components": [
                {
                    **c,
                    "fieldsets": [
                        {"code": code, "label": Product(code).label, "form": f} for code, f in c["protocols"].items()
                    ],
                }
                for c in components
            ],
            "extra_components": len(components),
            "may_add_component": len(components) < MAX_COMPONENTS - 1,
            "governance": governance,
            "governance_required": chosen in GOVERNANCE_REQUIRED,
            "governance_products": " ".join(sorted(GOVERNANCE_REQUIRED)),
            "errors": _error_summary(
                form, (chosen_protocol, f"protocol-{chosen}"), *component_fieldsets, (governance, "governance")
            )
            if request.method == "POST" and "add_component" not in request.POST
            else [],
            "unusual": unusual,
        },
    )


def _injection_submission(request, *, patient, product, injection=None):
    """The page's forms bound to a submission. After "add another product" nothing is judged or saved: the page
    comes back with one more product and everything typed in place."""
    adding = "add_component" in request.POST
    form_class = InjectionEditForm if injection else InjectionForm
    form = form_class(request.POST, clinic=patient.clinic, user=request.user, patient=patient)
    if adding:
        form = form_class(
            clinic=patient.clinic,
            user=request.user,
            patient=patient,
            initial={name: form[name].data for name in form.fields if form[name].data not in (None, "", [])},
        )
    if injection is not None:
        protocol_by_product = {product: PROTOCOL_FORMS[product](request.POST, prefix=product)}
        if adding:
            protocol_by_product = {product: unbound_copy(PROTOCOL_FORMS[product], request.POST, prefix=product)}
        allow_stored_values(protocol_by_product[product], injection.protocol)
    else:
        protocol_by_product = protocol_forms(None if adding else product, request.POST)
    governance = (
        unbound_copy(GovernanceForm, request.POST, prefix="governance") if adding else governance_form(request.POST)
    )
    count = extra_components_count(request.POST)
    components = [component_forms(n, request.POST, bind=not adding) for n in range(2, count + 2)]
    if injection is not None and not adding:
        stored = {c.position: c for c in injection.components.all()}
        for c in components:
            if c["position"] in stored and c["chosen"] == stored[c["position"]].product:
                allow_stored_values(c["protocols"][c["chosen"]], stored[c["position"]].protocol)
    return adding, form, protocol_by_product, governance, components


def _save_injection(request, save, *, form, protocol_form, governance, product, components):
    """Run the service; on a refusal put its errors beside the fields. Returns (saved, unusual values)."""
    if not _injection_forms_valid(form, protocol_form, governance, product, components):
        return None, []
    payload = _injection_payload(form, protocol_form, governance)
    if "product" not in payload:
        payload["product"] = product
    component_list = _components_payload(form, payload, components)
    del payload["product"]  # component 1's (the service fills it in)
    try:
        return save(payload, component_list), []
    except services.UnconfirmedWarnings as warnings:
        return None, _unusual(request, warnings, protocol_form, form, components)
    except ValidationError as error:
        service_errors_onto(error, form=form, others={"protocol": protocol_form, "governance": governance})
        return None, []


@login_required
def injection_new(request: HttpRequest, registry_number: str) -> HttpResponse:
    patient = _patient(request, registry_number, write=True)
    # ?consultation=<id> or ?review=<course id> (registry.prefill): the form starts from that record, and the
    # injection is linked to it.
    source = prefill.source_in(request.GET)
    initial = source[0].initial(user=request.user, patient=patient, key=source[1]) if source else {}
    if request.method != "POST":
        form = InjectionForm(clinic=patient.clinic, user=request.user, initial=initial, patient=patient)
        started = initial.get("product") if initial.get("product") in PROTOCOL_FORMS else None
        return _injection_page(
            request,
            patient=patient,
            form=form,
            protocol_by_product=protocol_forms(started),
            governance=governance_form(),
            chosen=started,
        )
    product = request.POST.get("product")
    chosen = product if product in PROTOCOL_FORMS else None
    adding, form, protocol_by_product, governance, components = _injection_submission(
        request, patient=patient, product=chosen
    )
    protocol_form = protocol_by_product.get(chosen)
    unusual = []
    if not adding:

        def save(data, component_list):
            with transaction.atomic():  # linked to its source in the same transaction, or not saved at all
                injection = services.injection_record(
                    patient=patient,
                    by=request.user,
                    data=data,
                    components=component_list,
                    number_in_plan=form.cleaned_data["number_in_plan"],
                    planned_injections=form.cleaned_data["planned_injections"],
                    acknowledged_warnings=request.POST.getlist("acknowledged_warnings"),
                    repeat_of=form.cleaned_data.get("repeat_of"),
                )
                if source:
                    source[0].link(key=source[1], injection=injection, by=request.user)
            return injection

        injection, unusual = _save_injection(
            request,
            save,
            form=form,
            protocol_form=protocol_form,
            governance=governance,
            product=chosen,
            components=components,
        )
        if injection is not None:
            messages.success(request, f"Recorded {injection}.")
            return redirect("registry:patient-detail", registry_number=patient.registry_number)
    return _injection_page(
        request,
        patient=patient,
        form=form,
        protocol_by_product=protocol_by_product,
        governance=governance,
        chosen=chosen,
        unusual=unusual,
        components=components,
    )


@login_required
def injection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    injection = _injection(request, pk, write=True)
    patient, product = injection.patient, injection.product
    if request.method != "POST":
        initial = {name: getattr(injection, name) for name in InjectionEditForm.base_fields if hasattr(injection, name)}
        initial["clinician"] = injection.clinician_id
        stored = injection.ordered_components
        if stored:
            initial.update(route=stored[0].route, site=stored[0].site)
        form = InjectionEditForm(initial=initial, clinic=patient.clinic, user=request.user)
        protocol_form = PROTOCOL_FORMS[product](prefix=product, initial=injection.protocol)
        components = [
            component_forms(
                c.position,
                initial={
                    "product": c.product,
                    "route": c.route,
                    "site": c.site,
                    "volume_ml": c.volume_ml,
                    "protocol": c.protocol,
                },
            )
            for c in stored[1:]
        ]
        return _injection_page(
            request,
            patient=patient,
            form=form,
            protocol_by_product={product: protocol_form},
            governance=governance_form(initial=injection.governance),
            chosen=product,
            injection=injection,
            components=components,
        )
    adding, form, protocol_by_product, governance, components = _injection_submission(
        request, patient=patient, product=product, injection=injection
    )
    protocol_form = protocol_by_product[product]
    unusual = []
    if not adding:

        def save(data, component_list):
            return services.injection_update(
                injection=injection,
                by=request.user,
                data=data,
                components=component_list,
                reason=form.cleaned_data["reason"],
                acknowledged_warnings=request.POST.getlist("acknowledged_warnings"),
            )

        saved, unusual = _save_injection(
            request,
            save,
            form=form,
            protocol_form=protocol_form,
            governance=governance,
            product=product,
            components=components,
        )
        if saved is not None:
            messages.success(request, "Injection record updated.")
            return redirect("registry:injection-detail", pk=injection.pk)
    return _injection_page(
        request,
        patient=patient,
        form=form,
        protocol_by_product=protocol_by_product,
        governance=governance,
        chosen=product,
        injection=injection,
        unusual=unusual,
        components=components,
    )


def _record_changes(field_name: str, old, new, product: str) -> list[dict]:
    """One row per changed item; a protocol or governance record is compared key by key."""
    if field_name in ("protocol", "governance"):
        form_class = PROTOCOL_FORMS.get(product) if field_name == "protocol" else GovernanceForm
        fields = form_class.base_fields if form_class else {}
        prefix = "Protocol" if field_name == "protocol" else "Governance"
        old, new = old or {}, new or {}
        rows = []
        for key in [*fields, *sorted((set(old) | set(new)) - set(fields))]:
            if old.get(key) != new.get(key):
                field = fields.get(key)
                label = str(field.label) if field else key.replace("_", " ")
                rows.append(
                    {
                        "label": f"{prefix}: {label}",
                        "old": "" if key not in old else display_value(field, old[key]),
                        "new": "" if key not in new else display_value(field, new[key]),
                    }
                )
        return rows
    model_field = Injection._meta.get_field(field_name)

    def show(value):
        if value in (None, "", []):
            return ""
        if model_field.choices:
            return str(dict(model_field.flatchoices).get(value, value))
        if isinstance(value, list):
            return ", ".join(map(str, value))
        if hasattr(value, "get_full_name"):
            return value.get_full_name() or value.get_username()
        return str(value)

    return [{"label": str(model_field.verbose_name).capitalize(), "old": show(old), "new": show(new)}]


def _component_changes(previous, record) -> list[dict]:
    """What one audit row of a component changed, named by its position ("Product 2: Route")."""
    name = f"Product {record.position}"
    if record.history_type == "+" or previous is None:
        return [{"label": f"{name} added", "old": "", "new": record.instance.summary}]
    if record.history_type == "-":
        return [{"label": f"{name} removed", "old": previous.instance.summary, "new": ""}]
    rows = []
    for change in record.diff_against(previous).changes:
        if record.position == 1 and change.field in services.PRINCIPAL_MIRRORED:
            continue  # the injection's own row shows component 1's protocol and volume, as it always has
        if change.field == "protocol":
            for row in _record_changes("protocol", change.old, change.new, record.product):
                rows.append({**row, "label": f"{name}: {row['label']}"})
            continue
        field = InjectionComponent._meta.get_field(change.field)
        show = dict(field.flatchoices) if field.choices else {}
        rows.append(
            {
                "label": f"{name}: {str(field.verbose_name).capitalize()}",
                "old": str(show.get(change.old, change.old if change.old is not None else "")),
                "new": str(show.get(change.new, change.new if change.new is not None else "")),
            }
        )
    return rows


def _audit_trail(injection: Injection) -> list[dict]:
    records = list(injection.history.select_related("history_user", "clinician").order_by("history_date", "history_id"))
    trail = []
    for previous, record in zip([None, *records], records, strict=False):
        changes = []
        if previous is not None:
            delta = record.diff_against(previous, foreign_keys_are_objs=True)
            for change in delta.changes:
                changes += _record_changes(change.field, change.old, change.new, injection.product)
        trail.append(
            {
                "record": record,
                "user": record.history_user,
                "reason": record.history_change_reason or "",
                "changes": changes,
                "created": previous is None,
            }
        )
    # A component's audit rows belong to the injection's row saved with them (the services save the injection
    # first, in the same transaction): the one at or just before each.
    last_seen: dict[int, object] = {}
    component_records = InjectionComponent.history.filter(injection_id=injection.pk)
    for record in component_records.order_by("history_date", "history_id"):
        previous = last_seen.get(record.id)
        last_seen[record.id] = record
        entry = next((e for e in reversed(trail) if e["record"].history_date <= record.history_date), None)
        if entry is None or (entry["created"] and previous is None):
            continue  # recorded with the injection: "Record created" says it
        entry["changes"] += _component_changes(previous, record)
    return list(reversed(trail))


@login_required
@require_safe
def injection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    injection = _injection(request, pk)
    may_write = injections_for(request.user, write=True).filter(pk=injection.pk).exists()
    return render(
        request,
        "registry/injection_detail.html",
        {
            "injection": injection,
            "patient": injection.patient,
            "trail": _audit_trail(injection),
            "may_write": may_write,
            "edit_url": reverse("registry:injection-edit", kwargs={"pk": injection.pk}),
        },
    )
