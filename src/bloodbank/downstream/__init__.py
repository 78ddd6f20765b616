"""Downstream zero-shot transfer: pretraining sets, task data, finetuning, Tables 3 and 4."""
