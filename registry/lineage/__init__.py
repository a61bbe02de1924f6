"""Model provenance in the registry: model files at intake, registered models and owners'
weight-watermark keys (PostgreSQL), and the options the ``model.*`` detectors receive."""
