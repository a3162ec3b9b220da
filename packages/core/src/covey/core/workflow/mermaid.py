"""A workflow drawn as a Mermaid `flowchart`.

Functions are boxes, agents (teams, workflows) subroutine boxes, `Condition` and `Router`
diamonds, `Parallel` a fork into its branches, `Loop` its steps with a dotted edge back,
`Steps` a subgraph. Node ids are `s1`, `s2`, ... in step order, so the text is stable."""

from __future__ import annotations

from itertools import count

from covey.core.workflow.plan import Node
from covey.core.workflow.steps import Loop

__all__ = ["to_mermaid"]

_Exit = tuple[str, str | None]
"""A node an edge leaves from, and the edge's label."""


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


class _Drawing:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ids = count(1)

    def new_id(self) -> str:
        return f"s{next(self.ids)}"

    def edges(self, exits: list[_Exit], entry: str) -> None:
        for source, label in exits:
            arrow = f" -->|{_label(label)}| " if label else " --> "
            self.lines.append(f"    {source}{arrow}{entry}")

    def sequence(self, nodes: tuple[Node, ...], exits: list[_Exit]) -> list[_Exit]:
        for node in nodes:
            exits = self.node(node, exits)
        return exits

    def node(self, node: Node, exits: list[_Exit]) -> list[_Exit]:
        kind = node.kind
        if kind in ("function", "agent"):
            node_id = self.new_id()
            shape = f"[[{_label(node.name)}]]" if kind == "agent" else f"[{_label(node.name)}]"
            self.lines.append(f"    {node_id}{shape}")
            self.edges(exits, node_id)
            return [(node_id, None)]
        if kind == "steps":
            node_id = self.new_id()
            self.lines.append(f"    subgraph {node_id} [{_label(node.name)}]")
            inner = self.sequence(node.children, exits)
            self.lines.append("    end")
            return inner
        if kind == "parallel":
            fork = self.new_id()
            self.lines.append(f"    {fork}{{{{{_label(node.name)}}}}}")
            self.edges(exits, fork)
            joined: list[_Exit] = []
            for child in node.children:
                joined.extend(self.node(child, [(fork, None)]))
            join = self.new_id()
            self.lines.append(f"    {join}(({_label('join')}))")
            self.edges(joined, join)
            return [(join, None)]
        if kind == "condition":
            test = self.new_id()
            self.lines.append(f"    {test}{{{_label(node.name)}}}")
            self.edges(exits, test)
            inner = self.sequence(node.children, [(test, "yes")])
            return [*inner, (test, "no")]
        if kind == "loop":
            start_id = f"s{_peek(self)}"
            inner = self.sequence(node.children, exits)
            source = node.source
            assert isinstance(source, Loop)
            label = f"{node.name}: again, at most {source.max_iterations}x"
            for end, _ in inner:
                self.lines.append(f"    {end} -.->|{_label(label)}| {start_id}")
            return inner
        # router
        test = self.new_id()
        self.lines.append(f"    {test}{{{_label(node.name)}}}")
        self.edges(exits, test)
        routed: list[_Exit] = []
        for child in node.children:
            routed.extend(self.node(child, [(test, child.name)]))
        return routed


def _peek(drawing: _Drawing) -> int:
    """The number the next node id will get (without taking it)."""
    value = next(drawing.ids)
    drawing.ids = count(value)
    return value


def to_mermaid(name: str, nodes: tuple[Node, ...]) -> str:
    """The workflow `name` with steps `nodes` as Mermaid `flowchart TD` text."""
    drawing = _Drawing()
    drawing.lines.append("flowchart TD")
    drawing.lines.append(f"    start([{_label(name)}])")
    exits = drawing.sequence(nodes, [("start", None)])
    drawing.lines.append(f"    finish([{_label('end')}])")
    drawing.edges(exits, "finish")
    return "\n".join(drawing.lines) + "\n"
