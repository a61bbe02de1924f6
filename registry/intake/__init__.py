"""Hardened media intake: sniffing, structural checks and bounded decoding of untrusted bytes."""
