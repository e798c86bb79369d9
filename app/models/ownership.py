"""What a row belongs to, declared once on each owned model for app/identity/policy.py.

The policy decides both for one row in Python (``permits``) and for a list in SQL (``where``);
both read the same declaration, so a list never shows a row a GET would refuse, or hides one
it would answer. A model that declares nothing cannot be asked about at all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class OwnerColumns:
    """The names of the model's attributes (columns, or hybrids that read the same in Python
    and in SQL) that say what a row belongs to; None: it belongs to none of that kind."""

    country: str | None = None  # the country it belongs to (NULL: none, the General Secretariat)
    countries: str | None = None  # or an array of every country it concerns
    agency: str | None = None
    principal: str | None = None  # the principal it is, or belongs to
    sending_country: str | None = None  # a request's: the country it was sent from
    holder: str | None = None  # a request's: the contact point holding it

    def declared(self) -> dict[str, str]:
        """Each facet the model declares, by facet: {"country": "target_country", ...}."""
        named = {field.name: getattr(self, field.name) for field in fields(self)}
        return {facet: name for facet, name in named.items() if name is not None}
