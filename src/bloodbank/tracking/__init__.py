"""MLflow mirrors every stage run: the stage side (runs) and the store (store)."""
