"""DAG validation and ordering: known cases plus properties over generated graphs."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from orchestrator_dynamic.domain import dag


def test_cycle_is_reported_as_its_path_in_execution_direction() -> None:
    graph = {"a": ["c"], "b": ["a"], "c": ["b"]}
    issues = dag.structural_issues(list(graph), graph)
    assert [i.code for i in issues] == ["dag.cycle"]
    assert "a -> b -> c -> a" in issues[0].message


def test_self_dependency_is_a_cycle() -> None:
    assert dag.find_cycle({"a": ["a"]}) == ["a", "a"]


def test_duplicates_and_unknown_dependencies_are_named() -> None:
    issues = dag.structural_issues(["a", "a", "b"], {"a": [], "b": ["zzz"]})
    codes = {i.code: i for i in issues}
    assert "'a'" in codes["dag.duplicate_task_id"].message
    assert "'zzz'" in codes["dag.unknown_dependency"].message
    assert codes["dag.unknown_dependency"].path == "tasks[b].dependencies"


def test_topological_order_respects_preference_among_ready_tasks() -> None:
    graph = {"t1": [], "t2": ["t1"], "t3": ["t1"], "t4": ["t2", "t3"]}
    assert dag.topological_order(graph, preferred=["t1", "t3", "t2", "t4"]) == [
        "t1",
        "t3",
        "t2",
        "t4",
    ]


def test_layers_group_by_depth() -> None:
    graph = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}
    assert dag.layers(graph) == [["a", "e"], ["b", "c"], ["d"]]


@st.composite
def acyclic_graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    """Random DAGs: each node may only depend on nodes created before it."""
    size = draw(st.integers(min_value=1, max_value=40))
    names = [f"n{i}" for i in range(size)]
    graph: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), max_size=4)) if i else []
        graph[name] = deps
    # Shuffle insertion order so plan order does not give the answer away.
    order = draw(st.permutations(names))
    return {name: graph[name] for name in order}


@given(acyclic_graphs())
def test_every_dependency_comes_first(graph: dict[str, list[str]]) -> None:
    order = dag.topological_order(graph)
    position = {name: i for i, name in enumerate(order)}
    assert sorted(order) == sorted(graph)
    for name, deps in graph.items():
        assert all(position[d] < position[name] for d in deps)


@given(acyclic_graphs())
def test_acyclic_graphs_have_no_issues(graph: dict[str, list[str]]) -> None:
    assert dag.structural_issues(list(graph), graph) == []


@given(acyclic_graphs(), st.data())
def test_adding_a_back_edge_is_always_caught(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    order = dag.topological_order(graph)
    if len(order) < 2:
        return
    i = data.draw(st.integers(min_value=0, max_value=len(order) - 2))
    j = data.draw(st.integers(min_value=i + 1, max_value=len(order) - 1))
    # order[j] runs after order[i]; making order[i] wait for something downstream of it closes
    # a loop only when order[j] depends (transitively) on order[i]; force it with a direct edge.
    earlier, later = order[i], order[j]
    cyclic = {k: list(v) for k, v in graph.items()}
    cyclic[later] = [*cyclic[later], earlier]
    cyclic[earlier] = [*cyclic[earlier], later]
    cycle = dag.find_cycle(cyclic)
    assert cycle and cycle[0] == cycle[-1]
    for a, b in itertools.pairwise(cycle):
        assert a in cyclic[b], f"{b} should depend on {a}"
    issues = dag.structural_issues(list(cyclic), cyclic)
    assert [i.code for i in issues] == ["dag.cycle"]
