"""A learner's progress (lessons, predictions, answers, the concept inventory), in memory or in a database."""

from container_edu.progress.records import (Attempt, InventoryRecord, LessonRecord, MemoryStore, ProgressStore,
                                            normalised_gain)

__all__ = ["Attempt", "LessonRecord", "InventoryRecord", "ProgressStore", "MemoryStore", "normalised_gain"]
