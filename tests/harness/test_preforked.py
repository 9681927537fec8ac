"""harness/preforked.py: a forked `python -m MODULE` child must not inherit its parent's signal
handlers even for an instant. A SIGTERM that came between the fork and the child's reset once
ran the supervisor's handler in the child, which swallowed it: after `down`, that child kept
serving and its supervisor waited for it for ever (seen once in tests/stack)."""

from __future__ import annotations

import signal
import textwrap

from tests.support.python_script import run_python

# a parent whose SIGTERM handler only takes note, as the supervisor's does; the child is sent
# SIGTERM inside the window (the `before` hook runs before its handlers are reset), and then
# would print the Zen of Python (`python -m this`) if it lived on
PARENT = textwrap.dedent(
    """
    import os, signal
    from harness import preforked
    signal.signal(signal.SIGTERM, lambda *_: print("parent's handler ran", flush=True))
    child = preforked.fork_module(
        "this", [], keep_fds=(), before=lambda: os.kill(os.getpid(), signal.SIGTERM)
    )
    _, status = os.waitpid(child.pid, 0)
    print("child:", os.waitstatus_to_exitcode(status), flush=True)
    """
)


def test_a_sigterm_in_the_fork_window_ends_the_child_instead_of_running_the_parents_handler():
    done = run_python(PARENT, timeout=60)
    assert "Beautiful is better than ugly" not in done.stdout  # the module never ran
    assert "parent's handler ran" not in done.stdout
    assert f"child: -{int(signal.SIGTERM)}" in done.stdout
