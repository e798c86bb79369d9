"""app/stix/identifiers.py: one normalization for requests' identifiers and shared data."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.enums import IdentifierKind
from app.requests.schemas import _identifier_problem
from app.stix.identifiers import identifiers_of, normalize
from tests.stix_objects import indicator, sco

IP, DOMAIN, URL, EMAIL = (
    IdentifierKind.IP,
    IdentifierKind.DOMAIN,
    IdentifierKind.URL,
    IdentifierKind.EMAIL,
)
HASH, PHONE, ACCOUNT, CRYPTO = (
    IdentifierKind.HASH,
    IdentifierKind.PHONE,
    IdentifierKind.ACCOUNT,
    IdentifierKind.CRYPTO_ADDRESS,
)


_BECH32 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
_ETHEREUM = "0x52908400098527886e0f7030069857d2e4169ee7"


@pytest.mark.parametrize(
    ("kind", "written", "normalized"),
    [
        (IP, " 203.0.113.7 ", "203.0.113.7"),
        (IP, "2001:0DB8:0000:0000:0000:0000:0000:0017", "2001:db8::17"),
        (IP, "::ffff:203.0.113.7", "203.0.113.7"),
        (IP, "203.0.113.0/24", None),
        (IP, "evil.example", None),
        (DOMAIN, "Tax-Refund.Example.NET.", "tax-refund.example.net"),
        (DOMAIN, "bücher.example", "xn--bcher-kva.example"),
        (DOMAIN, "not a domain", None),
        (DOMAIN, "localhost", None),
        (URL, "HTTPS://Evil.Example:443/Login?Session=42", "https://evil.example/Login?Session=42"),
        (URL, "http://evil.example", "http://evil.example/"),
        (URL, "http://evil.example:8080/a#Frag", "http://evil.example:8080/a#Frag"),
        (URL, "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
        (URL, "evil.example/login", None),
        (EMAIL, "Refunds@Tax-Office.Example.ORG", "refunds@tax-office.example.org"),
        (EMAIL, "no-at-sign.example", None),
        (HASH, "44D88612FEA8A8F36DE82E1278ABB02F", "44d88612fea8a8f36de82e1278abb02f"),
        (HASH, "44d88612", None),
        (PHONE, "+44 20 7946 0958", "+442079460958"),
        (PHONE, "0044 (20) 7946-0958", "+442079460958"),
        (PHONE, "020 7946 0958", "02079460958"),
        (PHONE, "call me", None),
        (ACCOUNT, "  o'brien_77 ", "o'brien_77"),
        (ACCOUNT, "   ", None),
        (CRYPTO, "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", _BECH32),
        (CRYPTO, "0x52908400098527886E0F7030069857D2E4169EE7", _ETHEREUM),
        (CRYPTO, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    ],
)  # fmt: skip
def test_one_value_written_several_ways_normalizes_to_one(
    kind: IdentifierKind, written: str, normalized: str | None
) -> None:
    assert normalize(kind, written) == normalized


# Values a request may name (app/requests/schemas.py accepts them): each must normalize, or
# the request could never match.
_REQUEST_VALUES = {
    IP: ["203.0.113.7", "2001:db8::17", "::ffff:198.51.100.1", "fe80::1%eth0"],
    DOMAIN: ["example.org", "EXAMPLE.org", "a-b.example.co.uk", "example.org."],
    URL: ["https://example.org/a?b=c", "ftp://files.example.org", "http://203.0.113.7:81/"],
    EMAIL: ["someone@example.org", "First.Last+tag@Mail.Example.org"],
    HASH: ["d41d8cd98f00b204e9800998ecf8427e", "A" * 40, "0" * 64, "f" * 128],
    PHONE: ["+33 1 23 45 67 89", "(555) 123-4567", "0044 20 7946 0958"],
    ACCOUNT: ["@someone", "user 42"],
    CRYPTO: ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "44AFFq5kSiGBoZ4NMDwYtN18obc8Aem"],
}


@pytest.mark.parametrize(
    ("kind", "value"),
    [(kind, value) for kind, values in _REQUEST_VALUES.items() for value in values],
)
def test_what_a_request_may_name_normalizes(kind: IdentifierKind, value: str) -> None:
    assert _identifier_problem(kind, value) is None
    assert normalize(kind, value) is not None
    # Normalizing twice changes nothing: a stored form is its own normal form.
    assert normalize(kind, normalize(kind, value) or "") == normalize(kind, value)


def test_observables_give_their_identifiers() -> None:
    assert identifiers_of(sco("ipv4-addr", value="203.0.113.7")) == [(IP, "203.0.113.7")]
    assert identifiers_of(sco("ipv4-addr", value="203.0.113.0/24")) == []
    assert identifiers_of(sco("domain-name", value="Evil.Example")) == [(DOMAIN, "evil.example")]
    assert identifiers_of(sco("email-addr", value="A@B.example")) == [(EMAIL, "a@b.example")]
    assert identifiers_of(
        sco("file", hashes={"MD5": "A" * 32, "SHA-256": "b" * 64, "SSDEEP": "3:a:b"})
    ) == [(HASH, "a" * 32), (HASH, "b" * 64)]
    assert identifiers_of(sco("user-account", account_login="jdoe", user_id="1001")) == [
        (ACCOUNT, "jdoe"),
        (ACCOUNT, "1001"),
    ]
    assert identifiers_of({"type": ["odd"], "value": "x"}) == []


def test_equality_comparisons_of_a_pattern_are_identifiers_and_nothing_else() -> None:
    pattern = (
        "([ipv4-addr:value = '203.0.113.7' OR domain-name:value = 'Evil.Example'] "
        "AND [url:value LIKE 'http://%'] AND [ipv4-addr:value ISSUBSET '10.0.0.0/8']) "
        "OR [email-message:to_refs[*].value = 'Drop@Mail.Example' AND "
        "network-traffic:dst_ref.value = 'c2.example' AND network-traffic:src_ref.value = "
        "'2001:db8::1' AND file:hashes.'SHA-1' = '" + "A" * 40 + "' AND "
        "user-account:account_login = 'o\\'brien' AND file:size = 42] "
        "OR [ipv4-addr:value != '192.0.2.1'] REPEATS 2 TIMES"
    )
    assert identifiers_of(indicator(pattern)) == [
        (IP, "203.0.113.7"),
        (DOMAIN, "evil.example"),
        (EMAIL, "drop@mail.example"),
        (DOMAIN, "c2.example"),
        (IP, "2001:db8::1"),
        (HASH, "a" * 40),
        (ACCOUNT, "o'brien"),
    ]


def test_the_simple_and_the_parsed_reading_agree() -> None:
    simple = "[ipv4-addr:value = '203.0.113.7' OR url:value = 'http://a.example/it\\'s']"
    parsed = simple + " WITHIN 5 SECONDS"  # no longer of the simple form: ANTLR reads it
    assert (
        identifiers_of(indicator(simple))
        == identifiers_of(indicator(parsed))
        == [
            (IP, "203.0.113.7"),
            (URL, "http://a.example/it's"),
        ]
    )


def test_each_identifier_once_and_nothing_from_other_patterns() -> None:
    twice = "[domain-name:value = 'evil.example'] OR [domain-name:value = 'EVIL.example.']"
    assert identifiers_of(indicator(twice)) == [(DOMAIN, "evil.example")]
    assert identifiers_of(indicator("rule x { condition: true }", pattern_type="yara")) == []
    assert identifiers_of(indicator("[ipv4-addr:value = ")) == []


_QUAD_PARTS = st.sampled_from(
    ["0", "1", "9", "00", "01", "10", "99", "100", "199", "200", "249", "250", "255", "256", "1000"]
)


@given(
    st.lists(_QUAD_PARTS, min_size=4, max_size=4).map(".".join)
    | st.text(alphabet="0123456789.:abcdefx% ", max_size=45)
)
def test_the_ip_shortcuts_agree_with_ipaddress(address: str) -> None:
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        expected = None
    else:
        mapped = getattr(parsed, "ipv4_mapped", None)
        expected = str(mapped or parsed)
    assert normalize(IdentifierKind.IP, address) == expected
