"""Content negotiation that answers an unknown ``?format=`` with 406 and a JSON message, not 404.

DRF's DefaultContentNegotiation raises Http404 when no renderer has the requested format: it treats the format as
part of the address (as in a ``.json`` suffix route). The registry has no suffix routes, so a ``?format=xml``
names an existing resource in a representation the API does not offer: 406 Not Acceptable, saying which formats
it does offer (the response itself is rendered as JSON, DRF's first renderer).
"""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class RegistryContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            offered = ", ".join(dict.fromkeys(renderer.format for renderer in renderers))
            raise NotAcceptable(
                f"Unknown format {format!r}: this address answers {offered} only. Leave out `format` "
                f"(or send format={renderers[0].format})."
            )
        return matching
