"""Session fixture that brings the local twin up once for the app_code tests (filled in by the local-twin work)."""
