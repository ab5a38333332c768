"""Rule-evaluation engine for claimrules."""
