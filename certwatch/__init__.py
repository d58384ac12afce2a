"""certwatch, the operator's command (not part of the Lambda bundle)."""
