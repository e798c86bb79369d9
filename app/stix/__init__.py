"""STIX 2.1 for the cybercrime data intake (issue 24): pure functions, no database, no HTTP.

- parsing: bytes to JSON, refusing what Postgres or the rest of the pipeline cannot take;
- validation: an envelope's or bundle's objects, and each object's STIX 2.1 problems;
- markings: TLP 2.0 marking definitions and relay247's handling codes;
- identifiers: the typed identifiers an object carries, normalized as requests' are;
- misp: MISP events converted to STIX 2.1 bundles.
"""
