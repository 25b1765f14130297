"""Online scoring: features from the training SQL over an online store, and the scoring API."""
