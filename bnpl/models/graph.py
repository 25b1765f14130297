"""The dependency graph of models: deterministic topological order, cycles and selection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bnpl.errors import ConfigError


class CycleError(Exception):
    """The graph has a cycle; ``cycle`` lists it (each node depends on the next), first node
    repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def topological_order(parents: Mapping[str, Iterable[str]]) -> list[str]:
    """Every node after its parents; ties broken by name, so the order is stable.

    ``parents`` maps each node to the nodes it depends on (all of them keys of ``parents``).

    Raises:
        CycleError: naming one cycle.
    """
    remaining = {node: set(deps) for node, deps in parents.items()}
    order: list[str] = []
    ready = sorted(node for node, deps in remaining.items() if not deps)
    while ready:
        node = ready.pop(0)
        order.append(node)
        del remaining[node]
        freed = [n for n, deps in remaining.items() if node in deps]
        for child in freed:
            remaining[child].discard(node)
            if not remaining[child]:
                ready.append(child)
        ready.sort()
    if remaining:
        raise CycleError(_find_cycle({n: sorted(d) for n, d in remaining.items()}))
    return order


def _find_cycle(parents: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle among nodes that could not be ordered (every one of them has a parent left)."""
    start = min(parents)
    path = [start]
    seen = {start: 0}
    node = start
    while True:
        node = next(p for p in parents[node] if p in parents)
        if node in seen:
            return [*path[seen[node] :], node]
        seen[node] = len(path)
        path.append(node)


def _closure(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    found: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                stack.append(nxt)
    return found


def select(selectors: Sequence[str], parents: Mapping[str, Iterable[str]]) -> set[str]:
    """The nodes chosen by dbt-style selectors: ``name``, ``name+`` (and descendants), ``+name``
    (and ancestors), ``+name+`` (both). No selector chooses every node.

    Raises:
        ConfigError: a selector names no node.
    """
    if not selectors:
        return set(parents)
    children: dict[str, set[str]] = {node: set() for node in parents}
    for node, deps in parents.items():
        for dep in deps:
            children[dep].add(node)
    chosen: set[str] = set()
    for raw in selectors:
        selector = raw.strip()
        name = selector.strip("+")
        if name not in parents:
            known = ", ".join(sorted(parents))
            raise ConfigError(f"--select {raw!r} names no model; models: {known}")
        chosen.add(name)
        if selector.startswith("+"):
            chosen |= _closure(name, parents)
        if selector.endswith("+"):
            chosen |= _closure(name, children)
    return chosen
