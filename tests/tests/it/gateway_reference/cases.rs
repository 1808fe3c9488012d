//! The cases the differential tests send: seeded random query strings and JSON bodies for
//! `tests.gateway.Everything`, from tables of names and values of every field type, well formed
//! or not.

/// Field names a query may use: proto names, JSON names, nested, map entries, unknown ones.
const KEYS: &[&str] = &[
    "small",
    "big",
    "unsigned_big",
    "unsignedBig",
    "ratio",
    "weight",
    "flag",
    "blob",
    "colour",
    "colours",
    "tags",
    "inner.label",
    "inner.count",
    "inner.leaf.note",
    "inner",
    "labels[k]",
    "labels[]",
    "labels[a.b]",
    "counters[7]",
    "counters[+7]",
    "tags[x]",
    "small[x]",
    "inner[label]",
    "counters[x]",
    "at",
    "wait",
    "mask",
    "maybe_big",
    "maybeName",
    "maybe_flag",
    "maybe_ratio",
    "maybe_blob",
    "choice_text",
    "choiceNumber",
    "maybe_note",
    "renamed",
    "otherName",
    "id",
    "nope",
    "inner.nope",
    "small.deeper",
    "Small",
    "sm%61ll",
    "extra",
    "anything",
    "inners",
    "",
];

/// Values a query may give, of every field type, well formed or not.
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "+1",
    "007",
    "1.0",
    "1.5",
    "-0",
    "1e2",
    "1E2",
    ".5",
    "5.",
    "0x10",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "3.5e38",
    "1e309",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "true",
    "false",
    "True",
    "TRUE",
    "t",
    "f",
    "yes",
    "COLOUR_RED",
    "COLOUR_GREEN",
    "colour_red",
    "COLOUR_BLUE",
    "COLOUR_UNSPECIFIED",
    "2",
    "3",
    "aGk=",
    "aGk",
    "aGk_",
    "aGk-",
    "a+b/",
    "a%2Bb%2F",
    "1972-01-01T10:00:20.021Z",
    "1972-01-01T10:00:20Z",
    "1972-01-01T10:00:20.021+01:00",
    "1972-01-01t10:00:20z",
    "0001-01-01T00:00:00Z",
    "1h",
    "1m30s",
    "1972-01-01%2010:00:20Z",
    "1.5s",
    "-1.5s",
    "1s",
    "1.5",
    "15ms",
    "a,b",
    "fooBar,baz.quxQuux",
    "foo_bar",
    "hello",
    "hello%20world",
    "hello+world",
    "%zz",
    "%",
    "%e2%82%ac",
    "%ff",
    "%00",
    "{}",
    "null",
    "[1]",
    "%7B%22a%22%3A1%7D",
];

/// One random query: one to four parameters, with now and then an empty one, a key without a
/// value, or a `;` (which Go refuses as a separator).
pub(super) fn random_query(rng: &mut fastrand::Rng) -> String {
    let mut parts = Vec::new();
    for _ in 0..rng.usize(1..=4) {
        let key = KEYS[rng.usize(..KEYS.len())];
        let value = VALUES[rng.usize(..VALUES.len())];
        parts.push(match rng.u8(..20) {
            0 => key.to_owned(),
            1 => String::new(),
            _ => format!("{key}={value}"),
        });
    }
    let mut query = parts.join("&");
    if rng.u8(..40) == 0 {
        query.push_str(";x=1");
    }
    query
}

/// One random JSON body for `Everything`: a few members of every kind, well formed or not.
pub(super) fn random_body(rng: &mut fastrand::Rng) -> String {
    const MEMBERS: &[(&str, &[&str])] = &[
        (
            "small",
            &[
                "1",
                "-1",
                "1.0",
                "1e2",
                "1.5",
                "\"7\"",
                "\"1e2\"",
                "2147483648",
                "null",
                "true",
            ],
        ),
        (
            "big",
            &[
                "1",
                "\"-9223372036854775808\"",
                "9223372036854775807",
                "\"1e3\"",
                "1e3",
                "\"0x1\"",
                "\" 1\"",
            ],
        ),
        (
            "unsignedBig",
            &["-1", "\"18446744073709551615\"", "1.5", "\"1.0\""],
        ),
        (
            "ratio",
            &[
                "1.5",
                "\"NaN\"",
                "\"Infinity\"",
                "\"-Infinity\"",
                "\"nan\"",
                "1e309",
                "\"1.5\"",
                "null",
            ],
        ),
        (
            "weight",
            &["3.5e38", "3.4e38", "\"3.5e38\"", "-1e-50", "0.1"],
        ),
        ("flag", &["true", "\"true\"", "1", "null"]),
        (
            "blob",
            &[
                "\"aGk=\"", "\"aGk\"", "\"aGk_\"", "\"a-_b\"", "\"a+/b\"", "\"!\"", "1",
            ],
        ),
        (
            "colour",
            &[
                "\"COLOUR_RED\"",
                "1",
                "3",
                "\"3\"",
                "\"NOPE\"",
                "\"colour_red\"",
                "-1",
                "null",
                "2147483648",
                "1.0",
            ],
        ),
        (
            "colours",
            &[
                "[\"COLOUR_RED\", \"NOPE\", 2]",
                "[]",
                "[null]",
                "\"COLOUR_RED\"",
                "[5]",
            ],
        ),
        (
            "tags",
            &["[\"a\", \"b\"]", "[1]", "[null]", "\"a\"", "null"],
        ),
        (
            "inner",
            &[
                "{\"label\": \"x\", \"count\": 2}",
                "{\"nope\": 1}",
                "null",
                "[]",
                "{\"leaf\": {\"note\": \"n\"}}",
            ],
        ),
        (
            "labels",
            &["{\"k\": \"v\"}", "{\"k\": 1}", "{\"k\": null}", "{}"],
        ),
        (
            "counters",
            &[
                "{\"7\": \"1\"}",
                "{\"x\": 1}",
                "{\"1e2\": 1}",
                "{\"-1\": 2}",
                "{\"01\": 1}",
                "{\" 1\": 1}",
            ],
        ),
        (
            "at",
            &[
                "\"1972-01-01T10:00:20.021Z\"",
                "\"1972-01-01T10:00:20.021+01:00\"",
                "\"0001-01-01T00:00:00Z\"",
                "\"10000-01-01T00:00:00Z\"",
                "\"1972-01-01T10:00:20.0000000001Z\"",
                "\"1972-01-01t10:00:20z\"",
            ],
        ),
        (
            "wait",
            &[
                "\"1.5s\"",
                "\"-0.5s\"",
                "\"1s\"",
                "\"1\"",
                "\"315576000001s\"",
                "\"1.0000000001s\"",
            ],
        ),
        (
            "mask",
            &[
                "\"a,b\"",
                "\"fooBar.baz\"",
                "\"foo_bar\"",
                "\"\"",
                "\"a,,b\"",
            ],
        ),
        ("maybeBig", &["\"1\"", "1", "null"]),
        ("maybeName", &["\"x\"", "null", "1"]),
        ("maybeFlag", &["false", "null"]),
        ("maybeRatio", &["\"NaN\"", "0", "null"]),
        ("maybeBlob", &["\"aGk=\"", "\"\"", "null"]),
        (
            "extra",
            &["{\"a\": [1, {\"b\": null}]}", "{}", "null", "[]", "1"],
        ),
        (
            "anything",
            &["null", "1", "\"s\"", "[1, \"a\"]", "{\"k\": true}"],
        ),
        ("choiceText", &["\"t\"", "null"]),
        ("choiceNumber", &["7", "null"]),
        ("maybeNote", &["\"n\"", "null", "\"\""]),
        ("otherName", &["\"o\""]),
        ("renamed", &["\"o\""]),
        ("other_name", &["\"o\""]),
        (
            "inners",
            &["[{\"label\": \"a\"}]", "[null]", "[{\"nope\": 1}]"],
        ),
        ("nope", &["1", "{\"deep\": [1]}", "null"]),
        ("unsigned_big", &["\"1\""]),
    ];
    let mut members = Vec::new();
    for _ in 0..rng.usize(1..=4) {
        let (name, values) = MEMBERS[rng.usize(..MEMBERS.len())];
        members.push(format!("\"{name}\": {}", values[rng.usize(..values.len())]));
    }
    format!("{{{}}}", members.join(", "))
}
