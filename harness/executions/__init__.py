"""Execution views: the Step Functions console's execution list, Table view and Graph view.

Reads only the Step Functions API, so the local stack and AWS look the same.
"""

from harness.executions.render import write_execution_views

__all__ = ["write_execution_views"]
