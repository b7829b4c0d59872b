"""The command line: one module per command (``python -m container_edu COMMAND``)."""
