"""TAXII 2.1 (OASIS Standard, 10 June 2021), the protocol only: media types and content
negotiation (media.py), error messages (errors.py), query filters (filters.py), the signed
paging token `next` (paging.py) and the resources' JSON (resources.py). What is stored, and
who may read or write it, is app/sharing's; the routes are app/api/taxii.py.
"""
