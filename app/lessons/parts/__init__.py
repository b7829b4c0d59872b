"""What the lessons are built from but is not a lesson: the course order, shared widgets, figures, models and panels.

Kept apart so that ``app/lessons/`` lists the lessons, one module per ``KEY`` (and the concept inventory).
"""
