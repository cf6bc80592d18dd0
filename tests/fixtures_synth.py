"""Session fixtures that synthesize each environment once per test session."""
