"""Service availability for tests that need real PostgreSQL/Redis (filled in by the infrastructure work)."""
