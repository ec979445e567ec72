"""Every URL pattern of the project, flattened: (view name with namespaces, route string, pattern)."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Route:
    name: str  # "registry:patient-detail", or the route string when the pattern has no name
    route: str  # "patients/<str:registry_number>/"
    params: tuple[str, ...]  # path parameters, from converters or the regex's named groups

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, route, ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or route)
            params = tuple(entry.pattern.converters) or tuple(entry.pattern.regex.groupindex)
            yield Route(name=name, route=route, params=params)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


# Which object a route's <pk> names, by the first of these its name contains.
PK_KINDS = (
    "reminder-comparison",
    "review-detail",  # consultations-api:review-detail (its name contains "consultation" too)
    "consultation",
    "injection",
    "follow-up",
    "submission",
    "flag",
    "export-job",
    "event",
    "clinic",
    "patient",
    "message",
)


def path_for(route: Route, objects: dict) -> str:
    """The route's address with its parameters filled from `objects` (keys: parameter names, or for <pk> and
    <token> the kind of object in PK_KINDS, "q-token", "unsubscribe-token" and "copy-token"). An unknown
    parameter: KeyError."""
    kwargs = {}
    for param in route.params:
        if param == "pk":
            kind = next(k for k in PK_KINDS if k in route.name)
            kwargs[param] = objects[kind]
        elif param == "token":
            if route.name.startswith("patient-copy:"):
                kwargs[param] = objects["copy-token"]
            else:
                kwargs[param] = objects["unsubscribe-token" if "unsubscribe" in route.name else "q-token"]
        else:
            kwargs[param] = objects[param]
    return reverse(route.name, kwargs=kwargs)
