"""API token authentication: DRF's, refusing a key PostgreSQL cannot even be asked about."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class RegistryTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        # A NUL in the header's key made the token lookup raise DataError on PostgreSQL (a 500); no key holds one.
        if "\x00" in key:
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
