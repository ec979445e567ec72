"""Where a new injection's form can start from, other than blank: a record kept by an app above the registry.

A consultation (the consultations app, issue 16) holds the knee, the selection factors and the product decided on;
its "Record the injection" button opens this registry's injection form as ``?consultation=<id>``. The registry
cannot import that app (imports point down), so the app hands in, at start-up (its AppConfig.ready), a source for
the query parameter: ``initial`` gives the form's first values, ``link`` ties the saved injection to the record in
the same transaction (so an injection is never saved half-linked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# initial(*, user, patient, key) -> the injection form's initial values; raises Http404 when the user may not
# use that record for this patient (outside their clinics, another patient's, already used).
Initial = Callable[..., dict[str, Any]]
# link(*, key, injection, by) -> None: ties the injection to the record (audited); ValidationError refuses.
Link = Callable[..., None]


@dataclass(frozen=True)
class Source:
    parameter: str
    initial: Initial
    link: Link


_SOURCES: dict[str, Source] = {}


def provide(parameter: str, *, initial: Initial | None, link: Link | None = None) -> None:
    """Plug in a source for ``?<parameter>=<key>`` (called from the higher app's ready()); None unplugs it."""
    if initial is None:
        _SOURCES.pop(parameter, None)
        return
    if link is None:
        raise ValueError("A source of initial values must say how the injection is linked back to it.")
    _SOURCES[parameter] = Source(parameter, initial, link)


def source_in(query) -> tuple[Source, str] | None:
    """The source a request's query string names (``request.GET``), with its key; None for a blank form."""
    for parameter, source in _SOURCES.items():
        key = query.get(parameter)
        if key:
            return source, key
    return None
