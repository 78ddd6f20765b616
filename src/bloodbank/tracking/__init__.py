"""MLflow mirrors every stage run: the stage side (runs) and the writer process (worker)."""
