"""``replenish tune``: Optuna studies over the learners' hyperparameters (in progress)."""
