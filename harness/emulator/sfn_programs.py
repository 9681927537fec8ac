"""A speed-up: one evaluation program per state machine definition, shared by its executions.

moto's engine rebuilds the program (the tree of evaluation components) from the parse tree
for every execution: ~1.5 ms of the emulator's CPU per execution of our three-Task workflow
under load, a tenth of all it spends. The components hold only what the definition says
(checked over moto's component classes: outside construction no method assigns to them);
what a run changes lives in its Environment. Two exceptions keep the rebuild:
- Parallel and Map states: their branch and iteration machinery is less simple to vouch for,
  so a definition that names either is rebuilt per execution as before;
- `EvalComponent.heap_key`: drawn lazily on a component's first evaluation, so two first
  runs at once could draw two keys and one would lose its retry counters (they live in the
  run's heap under that key). A shared program has every key drawn before it is handed out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_REBUILT_PER_RUN = ('"Parallel"', '"Map"')  # a mention anywhere is enough to stay safe


def shared(build: Callable[[], Any], definition: str) -> Any:
    """The program for `definition`: cached when shareable, else `build()` each time."""
    if any(word in definition for word in _REBUILT_PER_RUN):
        return build()
    return _cached(definition, build)


@functools.lru_cache(maxsize=64)  # as many as the parse trees kept (moto_speedups)
def _box(definition: str) -> list:
    return []  # one per definition: the program, once built


def _cached(definition: str, build: Callable[[], Any]) -> Any:
    box = _box(definition)
    if not box:
        program = build()
        _draw_heap_keys(program)
        box.append(program)  # two threads may both build: either program is fine
    return box[0]


def clear() -> None:
    _box.cache_clear()


def _draw_heap_keys(root: Any) -> None:
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EvalComponent):
            _ = item.heap_key
        if isinstance(item, Component):
            stack.extend(vars(item).values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
