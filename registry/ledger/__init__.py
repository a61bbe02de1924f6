"""The signed, append-only verdict ledger: encoding, signing, Merkle log, checkpoints,
writer, verification, proofs and publication.
"""
