"""Answer: a model's draft turned into sentences that are checked, cited and compared.

A stage of its own because it is where a wrong answer is stopped: each sentence is verified
against the passages (names, numbers, the judge), its `[n]` markers become exact character
spans, and reports that disagree on the asked fact are named rather than blended.
"""
