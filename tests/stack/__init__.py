"""The local stack's life cycle: supervision, PID ownership, healing (issue 15)."""
