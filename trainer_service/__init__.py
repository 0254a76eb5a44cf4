"""MLSuite TrainerService: tabular datasets, training jobs, models and predictions over gRPC."""
