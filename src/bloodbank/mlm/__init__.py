"""The masked LM: model, masking, batching, trainer, evaluation, and the mono and pair runs."""
