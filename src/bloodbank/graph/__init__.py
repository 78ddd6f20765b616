"""The blood bank graph: matrix I/O, finetune scores, analysis, figures, exports, report."""
