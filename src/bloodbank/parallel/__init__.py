"""`lbb repro`: the pipeline's stale stages in parallel on Ray, planned and recorded by DVC."""
