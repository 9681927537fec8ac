"""End-to-end checks: real state machine executions on real images through a running stack."""
