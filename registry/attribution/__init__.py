"""Generator attribution on the registry side: enrolment records, fingerprints, the gallery.

See :mod:`.service` (enrol, remove, calibrate, rebuild the gallery), :mod:`.models` (tables),
:mod:`.errors`, :mod:`.queries` (what the dashboard reads).
"""
