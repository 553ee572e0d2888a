"""Compile CMS formula text into flat node arrays a numba kernel evaluates.

CMS writes every DRG, reroute and HAC rule as a boolean expression over
operands (``PDX:hiv & (MCC | CC)``, ``~steril``).  The kernel must evaluate
thousands of them per claim without touching Python, and the marking stage
must also know *which* operands made a formula true.  A postfix program gives
the value, but not the provenance; so each formula is stored as a small tree
laid out in post-order (children before parents):

* value pass  – walk the nodes forwards, ``value[i]`` from its children;
* collect pass – walk backwards from the root; a child is "collected" when its
  parent is collected and the child itself is true.  ``~x`` collects nothing.

Those are exactly the semantics the CMS marking logic needs ("the operands
that contributed to the match"), with no recursion in the kernel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OP_ATOM = 0
OP_AND = 1
OP_OR = 2
OP_NOT = 3

_TOKEN = re.compile(r"\s*(?:(\()|(\))|(&)|(\|)|(~)|([^\s()&|~]+))")


class FormulaSyntaxError(ValueError):
    """A formula text the parser cannot read (a table defect, never user input)."""


@dataclass(frozen=True)
class Node:
    op: int
    left: int = -1   # child index (AND/OR/NOT) ; -1 for atoms
    right: int = -1  # child index (AND/OR)
    atom: str = ""   # operand text, e.g. "PDX:hiv", for OP_ATOM


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FormulaSyntaxError(f"cannot tokenize formula {text!r} at {pos}")
        pos = m.end()
        tokens.append(next(g for g in m.groups() if g is not None))
    return tokens


def parse(text: str) -> list[Node]:
    """Parse ``text`` into post-ordered nodes; the last node is the root.

    Grammar (CMS precedence: ``~`` binds tightest, then ``&``, then ``|``;
    binary operators associate to the left)::

        expr   := term ('|' term)*
        term   := factor ('&' factor)*
        factor := '~' factor | '(' expr ')' | ATOM
    """
    tokens = tokenize(text)
    if not tokens:
        raise FormulaSyntaxError("empty formula")
    nodes: list[Node] = []
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise FormulaSyntaxError(f"unexpected end of formula {text!r}")
        tok = tokens[pos]
        pos += 1
        return tok

    def emit(node: Node) -> int:
        nodes.append(node)
        return len(nodes) - 1

    def expr() -> int:
        left = term()
        while peek() == "|":
            take()
            right = term()
            left = emit(Node(OP_OR, left, right))
        return left

    def term() -> int:
        left = factor()
        while peek() == "&":
            take()
            right = factor()
            left = emit(Node(OP_AND, left, right))
        return left

    def factor() -> int:
        tok = take()
        if tok == "~":
            return emit(Node(OP_NOT, factor()))
        if tok == "(":
            inner = expr()
            if take() != ")":
                raise FormulaSyntaxError(f"missing ')' in {text!r}")
            return inner
        if tok in (")", "&", "|"):
            raise FormulaSyntaxError(f"unexpected {tok!r} in {text!r}")
        return emit(Node(OP_ATOM, atom=tok))

    root = expr()
    if pos != len(tokens):
        raise FormulaSyntaxError(f"trailing tokens in {text!r}")
    assert root == len(nodes) - 1
    return nodes


def atoms(text: str) -> list[str]:
    """The operand texts of a formula, in order of appearance."""
    return [n.atom for n in parse(text) if n.op == OP_ATOM]
