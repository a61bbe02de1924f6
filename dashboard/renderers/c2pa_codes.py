"""C2PA validation status codes in words, from the C2PA Technical Specification (2.1),
section "Standard Status Codes" (success, informational and failure codes).

Written here because no installed library exposes the table with explanations; a code not
listed is shown as "not in the specification's table" rather than guessed at.
"""

from __future__ import annotations

SUCCESS = {
    "claimSignature.validated": "The claim's signature was checked and is valid.",
    "claimSignature.insideValidity": "The signing certificate was within its validity "
    "period when the claim was signed.",
    "signingCredential.trusted": "The signing certificate chains to a trust anchor this "
    "validator trusts.",
    "signingCredential.ocsp.notRevoked": "An OCSP response says the signing certificate "
    "was not revoked.",
    "timeStamp.trusted": "The time-stamp was issued by a trusted time-stamp authority.",
    "timeStamp.validated": "The time-stamp's signature and message imprint are valid.",
    "assertion.hashedURI.match": "An assertion's hash matches the hash recorded in the "
    "claim (the assertion was not changed).",
    "assertion.dataHash.match": "The hash of the file's bytes matches the claim's data hash "
    "(the pixels were not changed after signing).",
    "assertion.bmffHash.match": "The hash of the BMFF (MP4/HEIF) boxes matches the claim.",
    "assertion.boxesHash.match": "The hash of the file's boxes matches the claim.",
    "assertion.collectionHash.match": "The hashes of the collection's files match.",
    "assertion.accessible": "A referenced assertion could be read.",
    "ingredient.manifest.validated": "An ingredient's manifest was validated.",
    "ingredient.claimSignature.validated": "An ingredient's claim signature is valid.",
}

INFORMATIONAL = {
    "algorithm.deprecated": "A deprecated (weaker) algorithm was used; the result is kept "
    "but should be trusted less.",
    "signingCredential.ocsp.skipped": "Revocation (OCSP) was not checked.",
    "signingCredential.ocsp.inaccessible": "The OCSP responder could not be reached, so "
    "revocation is unknown.",
    "timeStamp.untrusted": "The time-stamp authority is not on the trust list.",
    "timeOfSigning.inside": "The signing time lies within the certificate's validity.",
    "ingredient.unknownProvenance": "An ingredient carries no provenance data.",
    "manifest.unreferenced": "The file holds a manifest that no claim refers to.",
}

FAILURE = {
    "claim.missing": "The claim referenced by the manifest is missing.",
    "claim.multiple": "More than one claim was found in one manifest.",
    "claim.hardBindings.missing": "The claim has no hard binding (no hash tying it to "
    "the file's bytes).",
    "claim.required.missing": "A required field of the claim is missing.",
    "claim.cbor.invalid": "The claim is not valid CBOR.",
    "claimSignature.missing": "The claim's signature is missing.",
    "claimSignature.mismatch": "The claim's signature does not verify: the claim was "
    "altered or signed with another key.",
    "claimSignature.outsideValidity": "The claim was signed outside the signing "
    "certificate's validity period.",
    "manifest.multipleParents": "The manifest names more than one parent ingredient.",
    "manifest.update.invalid": "An update manifest is invalid.",
    "manifest.update.wrongParents": "An update manifest has the wrong parent ingredients.",
    "manifest.inaccessible": "A manifest could not be read.",
    "manifest.compressed.invalid": "A compressed manifest could not be decompressed.",
    "signingCredential.untrusted": "The signing certificate does not chain to any trust "
    "anchor this validator trusts (anyone can make such a certificate).",
    "signingCredential.invalid": "The signing certificate is malformed or not allowed for "
    "signing claims.",
    "signingCredential.revoked": "The signing certificate was revoked.",
    "signingCredential.expired": "The signing certificate had expired when used.",
    "signingCredential.ocsp.revoked": "An OCSP response says the certificate was revoked.",
    "signingCredential.ocsp.unknown": "The OCSP responder does not know the certificate.",
    "timeStamp.mismatch": "The time-stamp does not match the signature it covers.",
    "timeStamp.outsideValidity": "The time-stamp certificate was outside its validity.",
    "timeStamp.malformed": "The time-stamp is malformed.",
    "assertion.hashedURI.mismatch": "An assertion's hash does not match the claim: the "
    "assertion was changed after signing.",
    "assertion.missing": "An assertion the claim refers to is missing.",
    "assertion.multipleHardBindings": "More than one hard-binding assertion was found.",
    "assertion.undeclared": "An assertion is present but not declared in the claim.",
    "assertion.inaccessible": "A referenced assertion could not be read.",
    "assertion.notRedacted": "An assertion marked as redacted is still present.",
    "assertion.selfRedacted": "A manifest tried to redact its own assertion.",
    "assertion.dataHash.mismatch": "The file's bytes do not match the claim's data hash: "
    "the file was changed after it was signed.",
    "assertion.dataHash.malformed": "The data-hash assertion is malformed.",
    "assertion.bmffHash.mismatch": "The BMFF (MP4/HEIF) boxes do not match the claim: the "
    "file was changed after it was signed.",
    "assertion.bmffHash.malformed": "The BMFF hash assertion is malformed.",
    "assertion.boxesHash.mismatch": "The file's boxes do not match the claim.",
    "assertion.boxesHash.unknownBox": "The file holds a box the claim does not cover.",
    "assertion.collectionHash.mismatch": "A file in the collection does not match.",
    "assertion.collectionHash.malformed": "The collection hash assertion is malformed.",
    "assertion.cloud-data.hardBinding": "A cloud-data assertion may not be a hard binding.",
    "assertion.cloud-data.actions": "A cloud-data assertion may not hold actions.",
    "assertion.json.invalid": "A JSON assertion is not valid JSON.",
    "assertion.cbor.invalid": "A CBOR assertion is not valid CBOR.",
    "assertion.action.ingredientMismatch": "An action names an ingredient that does not "
    "match the manifest's ingredients.",
    "assertion.action.malformed": "An action assertion is malformed.",
    "assertion.action.redacted": "An action assertion was redacted, which is not allowed.",
    "assertion.outsideManifest": "An assertion lies outside the manifest.",
    "ingredient.manifest.missing": "An ingredient's manifest is missing.",
    "ingredient.manifest.mismatch": "An ingredient's manifest does not match the hash "
    "recorded for it.",
    "ingredient.claimSignature.missing": "An ingredient's claim signature is missing.",
    "ingredient.claimSignature.mismatch": "An ingredient's claim signature does not verify.",
    "ingredient.hashedURI.mismatch": "An ingredient's hash does not match.",
    "algorithm.unsupported": "The manifest uses an algorithm this validator does not support.",
    "general.error": "The validator hit an unexpected error.",
}

KINDS = {"success": SUCCESS, "informational": INFORMATIONAL, "failure": FAILURE}


def explain(code: str) -> tuple[str, str]:
    """``(kind, meaning)`` of a status code; kind is success / informational / failure, or
    "unknown" for a code not in the specification's table."""
    for kind, table in KINDS.items():
        if code in table:
            return kind, table[code]
    return "unknown", "not in the specification's table of status codes"
