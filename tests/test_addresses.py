"""Addresses: supported countries and their names, postal codes per country, normalization."""

from __future__ import annotations

import pytest

from shop.checkout.addresses import (
    CANADIAN_PROVINCES,
    SUPPORTED_COUNTRIES,
    Address,
    country_choices,
    province_choices,
    sort_key,
    validate_address,
)

VALID = {
    "first_name": "Jeanne",
    "last_name": "Martin",
    "line1": "12 rue de la Paix",
    "postal_code": "75002",
    "city": "Paris",
    "country": "FR",
}


@pytest.fixture(autouse=True)
def ctx(_session_app):
    """Babel needs an application; nothing here touches the database."""
    with _session_app.app_context():
        yield


def check(**changes: str) -> tuple[Address, dict[str, str]]:
    return validate_address({**VALID, **changes}, "en")


# -- countries and provinces -------------------------------------------------------------


def test_country_choices_in_french_put_france_first_then_sort_by_name():
    assert country_choices("fr") == [
        ("FR", "France"),
        ("DE", "Allemagne"),
        ("AT", "Autriche"),
        ("BE", "Belgique"),
        ("CA", "Canada"),
        ("ES", "Espagne"),
        ("IE", "Irlande"),
        ("IT", "Italie"),
        ("LU", "Luxembourg"),
        ("MC", "Monaco"),
        ("NL", "Pays-Bas"),
        ("PT", "Portugal"),
    ]


def test_country_choices_in_english_sort_by_name():
    assert country_choices("en") == [
        ("AT", "Austria"),
        ("BE", "Belgium"),
        ("CA", "Canada"),
        ("FR", "France"),
        ("DE", "Germany"),
        ("IE", "Ireland"),
        ("IT", "Italy"),
        ("LU", "Luxembourg"),
        ("MC", "Monaco"),
        ("NL", "Netherlands"),
        ("PT", "Portugal"),
        ("ES", "Spain"),
    ]


def test_supported_countries():
    assert set(SUPPORTED_COUNTRIES) == {
        "FR", "MC", "BE", "LU", "DE", "ES", "IT", "NL", "PT", "AT", "IE", "CA",
    }  # fmt: skip


def test_sorting_ignores_accents_and_case():
    names = ["Espagne", "Émirats arabes unis", "zambie", "Égypte", "Allemagne", "Île Maurice"]

    assert sorted(names, key=sort_key) == [
        "Allemagne",
        "Égypte",
        "Émirats arabes unis",
        "Espagne",
        "Île Maurice",
        "zambie",
    ]


def test_province_choices_in_both_languages():
    assert [name for _, name in province_choices("fr")] == [
        "Alberta",
        "Colombie-Britannique",
        "Île-du-Prince-Édouard",
        "Manitoba",
        "Nouveau-Brunswick",
        "Nouvelle-Écosse",
        "Nunavut",
        "Ontario",
        "Québec",
        "Saskatchewan",
        "Terre-Neuve-et-Labrador",
        "Territoires du Nord-Ouest",
        "Yukon",
    ]
    assert province_choices("en")[:4] == [
        ("AB", "Alberta"),
        ("BC", "British Columbia"),
        ("MB", "Manitoba"),
        ("NB", "New Brunswick"),
    ]
    assert len(CANADIAN_PROVINCES) == 13
    assert CANADIAN_PROVINCES["QC"] == {"fr": "Québec", "en": "Quebec"}


# -- postal codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "region", "raw", "normalized"),
    [
        ("FR", "", "75011", "75011"),
        ("FR", "", " 75 011 ", "75011"),
        ("FR", "", "20000", "20000"),
        ("MC", "", "98000", "98000"),
        ("DE", "", "10115", "10115"),
        ("DE", "", "01067", "01067"),
        ("ES", "", "28001", "28001"),
        ("ES", "", "08001", "08001"),
        ("IT", "", "00184", "00184"),
        ("IT", "", "20121", "20121"),
        ("BE", "", "1000", "1000"),
        ("BE", "", "9000", "9000"),
        ("LU", "", "1118", "1118"),
        ("LU", "", "L-1118", "1118"),
        ("LU", "", "l-1118", "1118"),
        ("AT", "", "1010", "1010"),
        ("NL", "", "1012AB", "1012 AB"),
        ("NL", "", "1012 ab", "1012 AB"),
        ("PT", "", "1100-148", "1100-148"),
        ("PT", "", "1100148", "1100-148"),
        ("PT", "", "4000 322", "4000-322"),
        ("IE", "", "A65F4E2", "A65 F4E2"),
        ("IE", "", "d02 x285", "D02 X285"),
        ("IE", "", "D6W 1234", "D6W 1234"),
        ("CA", "QC", "h2x1y4", "H2X 1Y4"),
        ("CA", "QC", "G1R 4P5", "G1R 4P5"),
        ("CA", "ON", "k1a 0b1", "K1A 0B1"),
        ("CA", "BC", "V6B 1A1", "V6B 1A1"),
        ("CA", "NU", "X0A 0H0", "X0A 0H0"),
        ("CA", "NT", "X1A 2P7", "X1A 2P7"),
        ("CA", "AB", "T2P 1J9", "T2P 1J9"),
    ],
)
def test_good_postal_codes_are_normalized(country, region, raw, normalized):
    address, errors = check(country=country, region=region, postal_code=raw)

    assert errors == {}
    assert address.postal_code == normalized


@pytest.mark.parametrize(
    ("country", "raw", "example"),
    [
        ("FR", "7501", "75011"),
        ("FR", "750111", "75011"),
        ("FR", "ABCDE", "75011"),
        ("MC", "75011", "98000"),
        ("MC", "98100", "98000"),
        ("DE", "1011", "10115"),
        ("DE", "00123", "10115"),
        ("ES", "53001", "28001"),
        ("ES", "00001", "28001"),
        ("IT", "2012", "00184"),
        ("BE", "0999", "1000"),
        ("BE", "10000", "1000"),
        ("LU", "L-111", "1118"),
        ("LU", "12345", "1118"),
        ("AT", "0100", "1010"),
        ("AT", "10100", "1010"),
        ("NL", "0123 AB", "1012 AB"),
        ("NL", "1012 SA", "1012 AB"),
        ("NL", "1012 A", "1012 AB"),
        ("PT", "1100-14", "1100-148"),
        ("PT", "0100-148", "1100-148"),
        ("IE", "B65 F4E2", "A65 F4E2"),
        ("IE", "A65 F4B2", "A65 F4E2"),
        ("IE", "A6W F4E2", "A65 F4E2"),
        ("IE", "A65 F4E", "A65 F4E2"),
        ("CA", "D2X 1Y4", "H2X 1Y4"),
        ("CA", "W2X 1Y4", "H2X 1Y4"),
        ("CA", "Z2X 1Y4", "H2X 1Y4"),
        ("CA", "H2O 1Y4", "H2X 1Y4"),
        ("CA", "H2X 1U4", "H2X 1Y4"),
        ("CA", "H2X 1Y", "H2X 1Y4"),
        ("CA", "12345", "H2X 1Y4"),
    ],
)
def test_bad_postal_codes_show_an_example(country, raw, example):
    address, errors = check(country=country, region="QC", postal_code=raw)

    assert errors == {"postal_code": f"Please enter a valid postal code, such as {example}."}
    assert address.postal_code == raw


@pytest.mark.parametrize(
    ("country", "raw"),
    [
        ("FR", "97100"),  # Guadeloupe
        ("FR", "97400"),  # La Réunion
        ("FR", "98714"),  # French Polynesia
        ("ES", "35001"),  # Las Palmas
        ("ES", "38001"),  # Santa Cruz de Tenerife
        ("ES", "51001"),  # Ceuta
        ("ES", "52001"),  # Melilla
        ("PT", "9000-001"),  # Madeira
        ("PT", "9500-001"),  # Azores
        ("DE", "27498"),  # Heligoland
        ("DE", "78266"),  # Büsingen
        ("IT", "23041"),  # Livigno
        ("IT", "22061"),  # Campione d'Italia
    ],
)
def test_areas_outside_the_eu_vat_area_are_refused(country, raw):
    _, errors = check(country=country, postal_code=raw)

    assert errors == {"postal_code": "We do not deliver to this area yet."}


def test_a_monaco_postal_code_under_france_points_to_monaco():
    _, errors = check(country="FR", postal_code="98000")

    assert errors == {
        "postal_code": "This postal code is in Monaco: please choose Monaco as the country."
    }


@pytest.mark.parametrize(
    ("region", "postal_code"),
    [("ON", "H2X 1Y4"), ("QC", "K1A 0B1"), ("YT", "X0A 0H0"), ("NS", "A1C 5M2")],
)
def test_canadian_province_must_match_the_postal_code(region, postal_code):
    _, errors = check(country="CA", region=region, postal_code=postal_code)

    assert errors == {"region": "This postal code is not in the province or territory chosen."}


@pytest.mark.parametrize("region", ["", "ZZ", "Québec"])
def test_canada_needs_a_province(region):
    _, errors = check(country="CA", region=region, postal_code="H2X 1Y4")

    assert errors == {"region": "Please choose a province or territory."}


# -- fields ------------------------------------------------------------------------------


def test_a_valid_address_is_trimmed_and_normalized():
    address, errors = validate_address(
        {
            "first_name": "  Marie-Ève ",
            "last_name": "Tremblay\n",
            "company": " Atelier   Bois ",
            "line1": "1234  rue Saint-Denis",
            "line2": "app.\u00a05",
            "postal_code": "h2x1y4",
            "city": " Montréal",
            "country": "ca",
            "region": "qc",
            "phone": " +1 514 555 0199 ",
            "ignored": "x",
        },
        "fr",
    )

    assert errors == {}
    assert address == Address(
        first_name="Marie-Ève",
        last_name="Tremblay",
        company="Atelier Bois",
        line1="1234 rue Saint-Denis",
        line2="app. 5",
        postal_code="H2X 1Y4",
        city="Montréal",
        country="CA",
        region="QC",
        phone="+1 514 555 0199",
    )


def test_decomposed_accents_are_composed():
    address, errors = check(city="Montre\u0301al")

    assert errors == {}
    assert address.city == "Montréal"


def test_missing_fields_each_get_a_message():
    address, errors = validate_address({}, "en")

    assert errors == {
        "first_name": "Please fill in this field.",
        "last_name": "Please fill in this field.",
        "line1": "Please fill in this field.",
        "postal_code": "Please fill in this field.",
        "city": "Please fill in this field.",
        "country": "Please choose a country.",
    }
    assert address == Address()


def test_blank_fields_count_as_missing():
    _, errors = check(first_name="   ", city="\t")

    assert errors == {
        "first_name": "Please fill in this field.",
        "city": "Please fill in this field.",
    }


@pytest.mark.parametrize("country", ["US", "GB", "CH", "XX", "France"])
def test_unsupported_country(country):
    _, errors = check(country=country)

    assert errors == {"country": "We do not deliver to this country yet."}


def test_region_is_dropped_outside_canada():
    address, errors = check(region="IDF")

    assert errors == {}
    assert address.region == ""


def test_lengths_are_limited():
    _, errors = check(line1="x" * 101, line2="y" * 100, postal_code="7" * 17)

    assert errors == {
        "line1": "Please shorten this to 100 characters at most.",
        "postal_code": "Please shorten this to 16 characters at most.",
    }


@pytest.mark.parametrize(
    "value", ["12 rue\x00 de la Paix", "12 rue\nde la Paix", "12 rue \u202eed", "a\x7fb"]
)
def test_control_characters_are_refused(value):
    _, errors = check(line1=value)

    assert errors == {"line1": "Please remove the special characters from this field."}


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("+33 1 23 45 67 89", True),
        ("06 12 34 56 78", True),
        ("(514) 555-0199", True),
        ("0612345678", True),
        ("+353 1 234 5678", True),
        ("abc", False),
        ("12", False),
        ("+33 1 23 45 67 89 00 00 00", False),
        ("06-12-34+56-78", False),
        ("06 12 34 56 78 poste 12", False),
    ],
)
def test_phone_is_optional_and_lightly_checked(phone, valid):
    _, errors = check(phone=phone)

    message = "Please enter a valid phone number, such as +33 1 23 45 67 89."
    assert errors == ({} if valid else {"phone": message})


def test_errors_are_plain_strings_in_the_requested_language():
    _, errors = validate_address({"country": "US"}, "fr")

    assert errors and all(type(message) is str for message in errors.values())


# -- display and snapshots ---------------------------------------------------------------


def test_lines_follow_each_country_and_name_it_in_the_locale():
    paris, _ = check()
    montreal, _ = validate_address(
        {**VALID, "company": "Atelier Bois", "line2": "app. 5", "postal_code": "H2X 1Y4",
         "city": "Montréal", "country": "CA", "region": "QC"},
        "fr",
    )  # fmt: skip
    dublin, _ = check(country="IE", postal_code="D02 X285", city="Dublin 2")

    assert paris.lines("fr") == ["Jeanne Martin", "12 rue de la Paix", "75002 Paris", "France"]
    assert montreal.lines("en") == [
        "Jeanne Martin",
        "Atelier Bois",
        "12 rue de la Paix",
        "app. 5",
        "Montréal QC H2X 1Y4",
        "Canada",
    ]
    assert dublin.lines("fr")[-3:] == ["Dublin 2", "D02 X285", "Irlande"]
    assert dublin.lines("en")[-1] == "Ireland"


def test_as_dict_round_trips():
    address, _ = check(company="Comptoir", phone="+33 1 23 45 67 89")

    snapshot = address.as_dict()

    assert snapshot == {
        "first_name": "Jeanne",
        "last_name": "Martin",
        "company": "Comptoir",
        "line1": "12 rue de la Paix",
        "line2": "",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
        "region": "",
        "phone": "+33 1 23 45 67 89",
    }
    assert Address.from_dict({**snapshot, "future_field": "x"}) == address
    assert Address.from_dict({"city": "Paris"}).country == ""
