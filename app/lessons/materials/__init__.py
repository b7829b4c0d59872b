"""What a lecturer hands out, generated from the lessons themselves: worksheet and answer key, time estimates,
the instructor guide's generated parts (``python -m app.lessons worksheet|times|guide``)."""
