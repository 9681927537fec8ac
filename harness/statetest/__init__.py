"""`harness test-state`: one state of the workflow through the TestState API (local or AWS)."""
