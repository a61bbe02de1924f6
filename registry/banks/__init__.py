"""Reference banks for copy detection and their index (the only place that imports
detectors.copy).
"""
