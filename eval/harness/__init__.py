"""The evaluation harness behind ``chat2task eval``: the labelled chat set through the real
pipeline, message-level metrics with confidence intervals, out-of-domain checks, and a
report a reviewer can read without running anything.

Modules, cheapest first: :mod:`.metrics` (generic, numpy only), :mod:`.labelled` (the gold
schema), :mod:`.scoring` (chat2task's message-level definitions), :mod:`.ood`,
:mod:`.floors`, :mod:`.report` and :mod:`.plots` (outputs), :mod:`.run` (the whole run).
"""
