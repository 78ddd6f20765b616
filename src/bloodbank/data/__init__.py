"""Data: dumps, extraction, segmentation, sampling, sample statistics, the tokenizer and
token ids; the synthetic world lives in ``data.synthetic``."""
