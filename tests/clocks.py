"""A clock for the progress tests: every reading is one second after the last, so records come in a known order."""


class TickingClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now
