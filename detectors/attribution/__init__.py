"""Open-set generator attribution: which enrolled generator made this image, or none we know.

Pure detection (no registry, no Ray): :mod:`.residual` (noise residuals, native-grid matching,
resampling check), :mod:`.fingerprint` (one generator's enrolment), :mod:`.gallery` (the
enrolled set and the open-set decision), :mod:`.open_space` (POSE-style augmented negatives),
:mod:`.metrics` (closed-set accuracy, AUROC, OSCR), :mod:`.detector` (the ``attribution``
detector).
"""
