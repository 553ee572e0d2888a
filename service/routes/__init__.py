"""HTTP routes, one module per concern: grouping, reference look-ups, operations."""
