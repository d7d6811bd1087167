"""The rules: one function per rule, grouped by what they judge (a module per family).
Each returns a ``Violation`` or None and never raises. Pure.

Rule ids are a contract (docs/design.md §3); messages say what is wrong, hints what to do.
"""
