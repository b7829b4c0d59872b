"""Session-state keys that several modules share: one home, so that no module imports another just for a name."""

__all__ = ["MODEL_KEY", "CURRENT_IMAGE_KEY", "TRAINED_MODELS_KEY", "UPLOADED_MODELS_KEY", "holds_work"]

#: The key of the chosen model (a :class:`app.registry.ModelRef`'s ``key``), set by the sidebar's picker and by
#: whatever installs a model and makes it the chosen one.
MODEL_KEY = "model_key"

#: The image the Image inspector and the Analysis page show (an ``app.widgets.CurrentImage``).
CURRENT_IMAGE_KEY = "current_image"
#: Models trained live in this session (the training lesson), by name.
TRAINED_MODELS_KEY = "trained_models"
#: Checkpoints uploaded in this session, by model key.
UPLOADED_MODELS_KEY = "uploaded_models"


def holds_work(session_state) -> bool:
    """Whether the session holds something that a new session would not have: an uploaded image or checkpoint,
    a model trained in it. Only then does its address carry a session token (see ``app.deployment``)."""
    image = session_state.get(CURRENT_IMAGE_KEY)
    uploaded_image = image is not None and str(getattr(image, "label", "")).startswith("upload:")
    return bool(uploaded_image or session_state.get(TRAINED_MODELS_KEY) or session_state.get(UPLOADED_MODELS_KEY))
