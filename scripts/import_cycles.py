"""Count the import cycles among the packages of `shop` (issue 12's measure).

Reads every import, including those inside functions, with grimp (the
library import-linter uses), folds modules into their first-level package
under `shop` (`shop.catalogue.models` -> `shop.catalogue`, `shop.jobs` stays
`shop.jobs`), then prints the strongly connected groups and the number of
elementary cycles (Johnson's algorithm, capped).

    .venv/bin/python scripts/import_cycles.py
"""

from __future__ import annotations

import sys
from collections import defaultdict

import grimp

CAP = 1_000_000


def package_of(module: str, depth: int) -> str:
    return ".".join(module.split(".")[: 1 + depth])


def package_graph(depth: int = 1) -> dict[str, set[str]]:
    graph = grimp.build_graph("shop", include_external_packages=False, cache_dir=None)
    edges: dict[str, set[str]] = defaultdict(set)
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = package_of(importer, depth), package_of(imported, depth)
            if a != b and a != "shop" and b != "shop":
                edges[a].add(b)
            edges.setdefault(b, set())
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [g for g in groups if len(g) > 1]


def count_cycles(edges: dict[str, set[str]]) -> int:
    """Elementary cycles, each counted once (rooted at its smallest node)."""
    nodes = sorted(edges)
    count = 0
    for i, start in enumerate(nodes):
        allowed = set(nodes[i:])
        path = [start]
        on_path = {start}
        iters = [iter(sorted(edges[start] & allowed))]
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                iters.pop()
                on_path.discard(path.pop())
                continue
            if nxt == start:
                count += 1
                if count >= CAP:
                    return count
            elif nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                iters.append(iter(sorted(edges[nxt] & allowed)))
    return count


def main() -> None:
    edges = package_graph()
    groups = strongly_connected(edges)
    mutual = sorted(
        (a, b) for a in edges for b in edges[a] if a < b and a in edges.get(b, set())
    )
    print(f"packages: {len(edges)}")
    print(f"packages in a cycle: {sum(len(g) for g in groups)}")
    for group in groups:
        print(f"  cycle group ({len(group)}): {', '.join(group)}")
    print(f"mutual imports (2-cycles): {len(mutual)}")
    for a, b in mutual:
        print(f"  {a} <-> {b}")
    total = count_cycles(edges)
    print(f"elementary cycles: {total}{'+' if total >= CAP else ''}")


if __name__ == "__main__":
    main()
