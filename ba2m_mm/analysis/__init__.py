"""What the analysis tools compute, importable and tested.

``tools/analysis/*.py`` parse their arguments and call these modules:

- :mod:`.comparison_models`: the models a benchmark compares (plain, BA2M,
  GCNet, GeneralizedAttention), built alike, and their input batches;
- :mod:`.benchmark_settings`: settings, per-device defaults, goals, and what
  this machine can run;
- :mod:`.step_timing`: training and inference step time, interleaved rounds (the
  project's one step timer, :func:`~.step_timing.interleaved_times`, which the
  comparison tool's side-by-side step ratio uses too);
- :mod:`.peak_memory`: peak memory of a step on CPU (sampled RSS);
- :mod:`.profiling_counts`: kernel launches, aten ops and GPU time per step;
- :mod:`.branch_profile`: time of each BA2M branch on ResNet-50 stage shapes;
- :mod:`.benchmark_report`: the ratio table, the chart and the environment;
- :mod:`.flops`: parameters and FLOPs, deployed and in training;
- :mod:`.paper_tables`: our parameters and FLOPs beside the paper's tables;
- :mod:`.model_index`: the model index (``configs/metafile.yml``) writer.

The package is not imported by ``import ba2m_mm``: it needs mmpretrain/mmdet
for most models, and matplotlib and psutil for the benchmark.
"""
