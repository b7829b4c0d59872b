"""Session-state keys that several modules share: one home, so that no module imports another just for a name."""

__all__ = ["MODEL_KEY"]

#: The key of the chosen model (a :class:`app.registry.ModelRef`'s ``key``), set by the sidebar's picker and by
#: whatever installs a model and makes it the chosen one.
MODEL_KEY = "model_key"
