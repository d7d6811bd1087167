"""The rules: the policy a check applies, one function per rule, the evaluation of a
batch of ref updates, freezes, message patterns, the time budget, the rule catalog and
how violations are rendered. Pure: imports only model and errors."""
