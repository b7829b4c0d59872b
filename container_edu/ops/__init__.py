"""The operation: affinities (pure functions), the aggregation operators as modules, and the kinds registry."""
