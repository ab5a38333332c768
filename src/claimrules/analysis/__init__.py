"""Policy analysis beside the engine: test cases with expected decisions, lint, and semantic diff.

It reads the same policy model the engine compiles (``claimrules.policy``) and confirms every
finding by deciding a claim with the engine itself.
"""
