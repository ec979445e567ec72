"""What went into an injection: one or more components (BMAC with PRP, HA with PRP...), each a product with its
own protocol, volume, route and site. Component 1 is the principal product, the one plans and follow-ups are
grouped by (``Injection.product``)."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from registry import plausibility, protocols
from registry.choices import INTRAOSSEOUS_ROUTES, NO_INTRAOSSEOUS, Product, Route
from registry.history import HistoricalRecords

# Enough for the combinations reported (BMAC + PRP intra-articular + BMAC intraosseous tibial and femoral).
MAX_COMPONENTS = 5


def short_product(product: str) -> str:
    """ "BMAC", not "BMAC (bone marrow aspirate concentrate)": how lists name a product."""
    return Product(product).label.split(" (")[0] if product in Product.values else product


def route_problem(product: str, route: str) -> str | None:
    """Why ``route`` is refused for ``product`` (None when it is allowed)."""
    if route in INTRAOSSEOUS_ROUTES and product in NO_INTRAOSSEOUS:
        return (
            f"{short_product(product)} is not given intraosseously: subchondral delivery is for cell or platelet "
            "products. Choose intra-articular or periarticular."
        )
    return None


class InjectionComponent(models.Model):
    injection = models.ForeignKey("registry.Injection", on_delete=models.CASCADE, related_name="components")
    position = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_COMPONENTS)],
        help_text="1 is the principal product.",
    )
    product = models.CharField(max_length=16, choices=Product.choices)
    route = models.CharField(max_length=24, choices=Route.choices, default=Route.INTRA_ARTICULAR)
    site = models.CharField(
        "site or approach", max_length=100, blank=True, help_text="E.g. superolateral, medial tibial plateau."
    )
    volume_ml = models.DecimalField(
        "volume injected (mL)",
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("100"))],
    )
    protocol = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["injection", "position"]
        constraints = [
            models.UniqueConstraint(fields=["injection", "position"], name="one_component_per_position"),
            models.CheckConstraint(condition=models.Q(product__in=Product.values), name="component_product_valid"),
            models.CheckConstraint(condition=models.Q(route__in=Route.values), name="component_route_valid"),
            models.CheckConstraint(condition=models.Q(position__gte=1), name="component_position_from_1"),
        ]

    def __str__(self) -> str:
        return self.summary

    @property
    def summary(self) -> str:
        """ "PRP 4 mL, intra-articular (superolateral)": one component in one line, for lists and exports."""
        site = f" ({self.site})" if self.site else ""
        volume = plausibility.number(self.volume_ml)
        return f"{short_product(self.product)} {volume} mL, {self.get_route_display()}{site}"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # As stored, so a correction is judged only on the values it changes (as Injection does).
        stored = instance.__dict__.get("protocol")
        instance.stored_protocol = dict(stored) if isinstance(stored, dict) else None
        instance.stored_volume_ml = instance.__dict__.get("volume_ml")
        return instance

    stored_protocol: dict | None = None
    stored_volume_ml: Decimal | None = None

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        problem = route_problem(self.product, self.route)
        if problem:
            errors["route"] = [problem]
        for field, messages in protocols.validate_protocol(self.product, self.protocol, stored=self.stored_protocol)[
            1
        ].items():
            errors.setdefault("protocol", []).extend(f"{field}: {m}" for m in messages)
        if isinstance(self.protocol, dict) and "protocol" not in errors:
            stored = (
                None if self.stored_protocol is None else {**self.stored_protocol, "volume_ml": self.stored_volume_ml}
            )
            for field, why in plausibility.parts_exceeding(
                self.product, {**self.protocol, "volume_ml": self.volume_ml}, stored=stored, injection_level=True
            ).items():
                errors.setdefault(field, []).append(why)
        if errors:
            raise ValidationError(errors)


def export_descriptions(injection_ids) -> dict[int, str]:
    """{injection id: "bmac intra_articular 6.0 mL + prp intra_articular 4.0 mL"}: each injection's components in
    codes, for exports (one query for a chunk of rows). The site is free text and stays out, as protocol notes do.
    safety.exports.csv_export writes the same text in SQL: change both together."""
    described: dict[int, list[str]] = {}
    rows = (
        InjectionComponent.objects.filter(injection_id__in=list(injection_ids))
        .order_by("injection_id", "position")
        .values_list("injection_id", "product", "route", "volume_ml")
    )
    for injection_id, product, route, volume in rows:
        described.setdefault(injection_id, []).append(f"{product} {route} {volume} mL")
    return {pk: " + ".join(parts) for pk, parts in described.items()}
