"""Recording what a network aggregated: the trace context, the inspection of one pass, the inspect API."""
