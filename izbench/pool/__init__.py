"""Instruction pools: a finite domain per task, written and scored once, then searched by any
method by lookup (``data``: the records; ``domain``: what a method asks of a domain; ``build``:
writing and scoring a pool; ``cells``: running methods on it; ``transfer``: export and import)."""
