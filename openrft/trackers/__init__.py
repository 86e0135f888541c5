"""Experiment trackers a job's ``integrations`` name: Weights & Biases and MLflow."""
