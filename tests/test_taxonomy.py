"""Channel taxonomy (attribution.inputs._taxonomy): channels derived from utm_source /
utm_medium."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.inputs._taxonomy import default_rules_path, derive_channels, load_rules

CASES = [
    ("linkedin", "paid_social", "linkedin"),
    ("lnkd.in", None, "linkedin"),
    (" LinkedIn ", "CPC", "linkedin"),  # trimmed, case-insensitive; first rule wins
    # LinkedIn's organic posts are not its ads (new-user report 5 #37)
    ("linkedin", "social", "organic_social"),
    ("linkedin", "Organic", "organic_social"),
    ("lnkd.in", "post", "organic_social"),
    ("linkedin", "sponsored", "linkedin"),
    ("bing", "cpc", "microsoft_ads"),
    ("Microsoft", "paid_search", "microsoft_ads"),
    ("google", "cpc", "google_ads"),
    ("adwords", "PPC", "google_ads"),
    ("google", "organic", "organic_search"),
    ("bing", "organic", "organic_search"),
    ("g2", "referral", "g2_capterra"),
    ("partner_portal", "referral", "partner_referral"),
    ("mailchimp", "email", "email"),
    ("hubspot", "nurture_q3", "email"),
    ("on24", "webinar", "webinar"),
    ("freightwaves", "banner", "industry_publications"),
    ("facebook", "paid_social", "paid_social"),
    ("(direct)", "(none)", "direct"),
    (None, None, "direct"),
    ("", "", "direct"),
    ("google", "display_v2", "other"),
    ("unknown", "thing", "other"),
    (None, "referral", "other"),
]


def _utm_touches(cases=CASES) -> pl.DataFrame:
    n = len(cases)
    return pl.DataFrame(
        {
            "touch_id": [f"t{i:02d}" for i in range(n)],
            "contact_id": ["c1"] * n,
            "timestamp": [f"2025-01-{i + 1:02d}" for i in range(n)],
            "utm_source": [c[0] for c in cases],
            "utm_medium": [c[1] for c in cases],
        },
        schema_overrides={"utm_source": pl.String, "utm_medium": pl.String},
    )


STAGES = pl.DataFrame(
    {"contact_id": ["c1"], "stage": ["closed_won"], "timestamp": ["2025-02-01"], "value": [1.0]}
)


def test_default_rules() -> None:
    frame, other = derive_channels(_utm_touches(), load_rules())
    assert frame.get_column("channel").to_list() == [c[2] for c in CASES]
    assert other == sum(c[2] == "other" for c in CASES)


def test_channels_derived_through_attribute() -> None:
    result = attribution.attribute(_utm_touches(), STAGES, models=["linear"])
    tc = result.touch_credit
    assert tc.get_column("channel").to_list() == [c[2] for c in CASES]
    assert result.manifest["reconciliation"]["touches_channel_other"] == 3
    other = result.channel_credit.filter(pl.col("channel") == "other")
    assert other.get_column("conversions").item() == pytest.approx(3 / len(CASES))


def test_only_one_utm_column() -> None:
    touches = _utm_touches().drop("utm_medium")
    result = attribution.attribute(touches, STAGES, models=["linear"])
    channels = result.touch_credit.get_column("channel").to_list()
    assert channels[0] == "linkedin"
    google = CASES.index(("google", "cpc", "google_ads"))
    assert channels[google] == "other"  # google without a medium: neither ads nor organic


def test_an_existing_channel_column_is_kept(tmp_path: Path) -> None:
    touches = _utm_touches().with_columns(pl.lit("webinar").alias("channel"))
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nchannel = "x"\nsource = ".*"\n')
    result = attribution.attribute(touches, STAGES, models=["linear"], channel_rules=rules)
    assert set(result.touch_credit.get_column("channel")) == {"webinar"}
    assert result.manifest["reconciliation"]["touches_channel_other"] == 0


def test_user_rules_replace_the_defaults(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        """
[[rule]]
channel = "social"
source = "linkedin|facebook"

[[rule]]
channel = "paid_search"
source = "^google$"
medium = "^cpc$"
"""
    )
    touches = _utm_touches(
        [
            ("linkedin", "paid_social", "social"),
            ("google", "cpc", "paid_search"),
            ("google", "organic", "other"),
            ("(direct)", "(none)", "other"),
        ]
    )
    result = attribution.attribute(touches, STAGES, models=["linear"], channel_rules=str(rules))
    assert result.touch_credit.get_column("channel").to_list() == [
        "social",
        "paid_search",
        "other",
        "other",
    ]
    assert result.manifest["reconciliation"]["touches_channel_other"] == 2


def test_rust_regex_syntax_is_accepted(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nchannel = "letters"\nsource = "^\\\\p{L}+$"\n')
    frame, other = derive_channels(
        _utm_touches([("abc", None, ""), ("a1", None, "")]), load_rules(rules)
    )
    assert frame.get_column("channel").to_list() == ["letters", "other"]
    assert other == 1


def test_the_shipped_file_is_what_load_rules_reads() -> None:
    assert default_rules_path().is_file()
    assert load_rules(default_rules_path()) == load_rules()
    assert load_rules()[0].channel == "organic_social"  # LinkedIn's organic posts first


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]\nchannel = 1", "not valid TOML|cannot read"),
        ("", "holds no"),
        ('[[rule]]\nsource = "x"\n', "needs 'channel'"),
        ('[[rule]]\nchannel = "x"\n', "at least one of"),
        (
            '[[rule]]\nchannel = "x"\nsource = "y"\ncampaign = "z"\n',
            "unknown keys: \\['campaign'\\]",
        ),
        ('[[rule]]\nchannel = "x"\nsource = "(unclosed"\n', "bad source pattern"),
        ('[[rule]]\nchannel = "x"\nmedium = "(?=lookahead)"\n', "bad medium pattern"),
        ('[[rule]]\nchannel = "x"\nsource = 5\n', "'source' must be text"),
        ('[[rule]]\nchannel = 5\nsource = "y"\n', "'channel' must be text"),
        ('rule = "linkedin"\n', "\\[\\[rule\\]\\] tables"),
        ("rule = [1, 2]\n", "not a \\[\\[rule\\]\\] table"),
    ],
)
def test_bad_rules_file(tmp_path: Path, text: str, message: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    with pytest.raises(attribution.ConfigError, match=message) as info:
        load_rules(rules)
    assert str(rules) in str(info.value)


def test_bad_rules_file_through_attribute(tmp_path: Path) -> None:
    with pytest.raises(attribution.ConfigError, match="cannot read channel rules"):
        attribution.attribute(
            _utm_touches(), STAGES, models=["linear"], channel_rules=tmp_path / "missing.toml"
        )
