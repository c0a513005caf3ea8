"""Developer tooling (not installed with the service)."""
