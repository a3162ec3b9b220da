"""The learning machine: `LearningMachine` and its learning stores (one module each)."""
