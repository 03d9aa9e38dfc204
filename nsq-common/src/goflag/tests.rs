use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn check_level(s: &str) -> Result<(), String> {
    match s {
        "debug" | "info" => Ok(()),
        _ => Err(format!("bad level {s}")),
    }
}

fn check_tls(s: &str) -> Result<(), String> {
    if s == "tcp-https" || parse_go_bool(s).is_some() {
        Ok(())
    } else {
        Err("not a bool".to_string())
    }
}

fn sample() -> FlagSet {
    let mut fs = FlagSet::new("demo");
    fs.bool("deflate", true, "use deflate")
        .bool("verbose", false, "say more")
        .string("tcp-address", "0.0.0.0:4150", "where to listen")
        .string("data-path", "", "where to store")
        .int("max-deflate-level", 6, "deflate level")
        .int64("mem-queue-size", 10000, "queue size")
        .int("zero", 0, "zero by default")
        .uint("count", 0, "a count")
        .float("sample", 1.0, "sample rate")
        .duration("msg-timeout", Duration::from_secs(60), "message timeout")
        .duration("rotate", Duration::ZERO, "rotation")
        .float_list("pct", "percentiles")
        .string_list("lookupd", "lookupd address")
        .custom(
            "log-level",
            CustomKind {
                is_bool: false,
                zero_text: "",
                check: check_level,
            },
            "info",
            "log `level` to use",
        )
        .custom(
            "tls-required",
            CustomKind {
                is_bool: true,
                zero_text: "false",
                check: check_tls,
            },
            "false",
            "require tls",
        );
    fs
}

#[test]
fn all_value_syntaxes() {
    let fs = sample();
    let p = fs
        .parse(&args(&[
            "-tcp-address=1.2.3.4:5",
            "--data-path",
            "/tmp/x",
            "--max-deflate-level=9",
            "-mem-queue-size",
            "0x10",
            "-msg-timeout=1.5s",
            "-sample",
            "0.25",
            "-count=0b101",
        ]))
        .unwrap();
    assert_eq!(p.get_str("tcp-address"), Some("1.2.3.4:5"));
    assert_eq!(p.get_str("data-path"), Some("/tmp/x"));
    assert_eq!(p.get_int("max-deflate-level"), Some(9));
    assert_eq!(p.get_int("mem-queue-size"), Some(16));
    assert_eq!(
        p.get_duration("msg-timeout"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(p.get_float("sample"), Some(0.25));
    assert_eq!(p.get_uint("count"), Some(5));
    assert!(p.is_set("tcp-address") && p.is_set("data-path") && p.is_set("count"));
    assert!(!p.is_set("deflate"));
    assert_eq!(
        p.get_bool("deflate"),
        Some(true),
        "unset flags keep their default"
    );
    assert!(p.args().is_empty());
}

#[test]
fn bools_need_equals() {
    let fs = sample();
    let p = fs.parse(&args(&["-verbose", "-deflate=false"])).unwrap();
    assert_eq!(p.get_bool("verbose"), Some(true));
    assert_eq!(p.get_bool("deflate"), Some(false));
    // `-deflate false`: the bare flag means true and "false" ends the flags.
    let p = fs.parse(&args(&["-deflate", "false", "-verbose"])).unwrap();
    assert_eq!(p.get_bool("deflate"), Some(true));
    assert_eq!(p.get_bool("verbose"), Some(false));
    assert_eq!(p.args(), &args(&["false", "-verbose"])[..]);
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        let p = fs.parse(&args(&[&format!("-verbose={v}")])).unwrap();
        assert_eq!(p.get_bool("verbose"), Some(true), "{v}");
    }
    assert_eq!(
        fs.parse(&args(&["-verbose=yes"])).unwrap_err(),
        FlagError::Invalid(r#"invalid boolean value "yes" for -verbose: parse error"#.into())
    );
}

#[test]
fn custom_bool_flag() {
    let fs = sample();
    let p = fs.parse(&args(&["-tls-required"])).unwrap();
    assert_eq!(p.get_str("tls-required"), Some("true"));
    let p = fs.parse(&args(&["--tls-required=tcp-https"])).unwrap();
    assert_eq!(p.get_str("tls-required"), Some("tcp-https"));
    assert_eq!(
        fs.parse(&args(&["-tls-required=maybe"])).unwrap_err(),
        FlagError::Invalid(r#"invalid boolean value "maybe" for -tls-required: not a bool"#.into())
    );
}

#[test]
fn stops_at_first_non_flag_and_after_double_dash() {
    let fs = sample();
    let p = fs
        .parse(&args(&["-verbose", "rest", "-deflate=false"]))
        .unwrap();
    assert_eq!(p.args(), &args(&["rest", "-deflate=false"])[..]);
    assert_eq!(p.get_bool("deflate"), Some(true));
    let p = fs.parse(&args(&["--", "-verbose"])).unwrap();
    assert_eq!(p.args(), &args(&["-verbose"])[..]);
    let p = fs.parse(&args(&["-", "x"])).unwrap();
    assert_eq!(p.args(), &args(&["-", "x"])[..]);
}

#[test]
fn value_may_look_like_a_flag() {
    let fs = sample();
    let p = fs.parse(&args(&["-data-path", "-verbose"])).unwrap();
    assert_eq!(p.get_str("data-path"), Some("-verbose"));
    assert_eq!(p.get_bool("verbose"), Some(false));
}

#[test]
fn repeatable_lists() {
    let fs = sample();
    let p = fs
        .parse(&args(&[
            "-lookupd=a:1",
            "-lookupd",
            "b:2",
            "-pct=0.5,1.0",
            "-pct",
            "0.99",
        ]))
        .unwrap();
    assert_eq!(p.get_string_list("lookupd").unwrap(), &["a:1", "b:2"]);
    assert_eq!(p.get_float_list("pct").unwrap(), &[1.0, 0.99, 0.5]);
    let p = fs.parse(&[]).unwrap();
    assert!(p.get_string_list("lookupd").unwrap().is_empty());
}

#[test]
fn bad_float_in_list_is_fatal() {
    let fs = sample();
    let err = fs.parse(&args(&["-pct=0.5,abc"])).unwrap_err();
    assert_eq!(err, FlagError::Fatal("Could not parse: abc".into()));
    assert_eq!(err.exit_code(), 1);
    let text = err.stderr_text(&fs);
    assert!(text.ends_with(" Could not parse: abc\n"), "{text}");
    // "YYYY/MM/DD HH:MM:SS " prefix
    assert_eq!(
        text.len(),
        "2026/01/02 03:04:05 Could not parse: abc\n".len()
    );
    assert_eq!(&text[4..5], "/");
}

#[test]
fn help_and_errors() {
    let fs = sample();
    for h in ["-h", "-help", "--help", "--h", "-help=1"] {
        let err = fs.parse(&args(&[h])).unwrap_err();
        assert_eq!(err, FlagError::Help, "{h}");
        assert_eq!(err.exit_code(), 0);
        assert_eq!(err.stderr_text(&fs), fs.usage());
    }
    let err = fs.parse(&args(&["-x"])).unwrap_err();
    assert_eq!(
        err,
        FlagError::Invalid("flag provided but not defined: -x".into())
    );
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.stderr_text(&fs),
        format!("flag provided but not defined: -x\n{}", fs.usage())
    );
    assert_eq!(
        fs.parse(&args(&["--nope=1"])).unwrap_err(),
        FlagError::Invalid("flag provided but not defined: -nope".into())
    );
    assert_eq!(
        fs.parse(&args(&["-max-deflate-level=abc"])).unwrap_err(),
        FlagError::Invalid(
            r#"invalid value "abc" for flag -max-deflate-level: parse error"#.into()
        )
    );
    assert_eq!(
            fs.parse(&args(&["-max-deflate-level=99999999999999999999"])).unwrap_err(),
            FlagError::Invalid(
                r#"invalid value "99999999999999999999" for flag -max-deflate-level: value out of range"#
                    .into()
            )
        );
    assert_eq!(
        fs.parse(&args(&["-msg-timeout", "60"])).unwrap_err(),
        FlagError::Invalid(r#"invalid value "60" for flag -msg-timeout: parse error"#.into())
    );
    assert_eq!(
        fs.parse(&args(&["-log-level=loud"])).unwrap_err(),
        FlagError::Invalid(r#"invalid value "loud" for flag -log-level: bad level loud"#.into())
    );
    assert_eq!(
        fs.parse(&args(&["-data-path"])).unwrap_err(),
        FlagError::Invalid("flag needs an argument: -data-path".into())
    );
    for bad in ["---x", "-=x", "--=x"] {
        assert_eq!(
            fs.parse(&args(&[bad])).unwrap_err(),
            FlagError::Invalid(format!("bad flag syntax: {bad}"))
        );
    }
}

#[test]
fn usage_layout() {
    let want = "Usage of demo:
  -count uint
    \ta count
  -data-path string
    \twhere to store
  -deflate
    \tuse deflate (default true)
  -log-level level
    \tlog level to use (default info)
  -lookupd value
    \tlookupd address
  -max-deflate-level int
    \tdeflate level (default 6)
  -mem-queue-size int
    \tqueue size (default 10000)
  -msg-timeout duration
    \tmessage timeout (default 1m0s)
  -pct value
    \tpercentiles
  -rotate duration
    \trotation
  -sample float
    \tsample rate (default 1)
  -tcp-address string
    \twhere to listen (default \"0.0.0.0:4150\")
  -tls-required
    \trequire tls
  -verbose
    \tsay more
  -zero int
    \tzero by default
";
    assert_eq!(sample().usage(), want);
}

#[test]
fn one_letter_bool_stays_on_one_line() {
    let mut fs = FlagSet::new("t");
    fs.bool("v", false, "verbose").int("n", 3, "count");
    assert_eq!(
        fs.usage(),
        "Usage of t:\n  -n int\n    \tcount (default 3)\n  -v\tverbose\n"
    );
}

#[test]
fn go_int_parsing() {
    assert_eq!(parse_go_int("42", 0), Ok(42));
    assert_eq!(parse_go_int("-42", 0), Ok(-42));
    assert_eq!(parse_go_int("+7", 0), Ok(7));
    assert_eq!(parse_go_int("0x1F", 0), Ok(31));
    assert_eq!(parse_go_int("0o17", 0), Ok(15));
    assert_eq!(parse_go_int("017", 0), Ok(15));
    assert_eq!(parse_go_int("0", 0), Ok(0));
    assert_eq!(parse_go_int("1_000", 0), Ok(1000));
    assert_eq!(parse_go_int("0x_1f", 0), Ok(31));
    assert_eq!(parse_go_int("08", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("1__0", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("_1", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("1_", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("1_000", 10), Err(NumError::Syntax));
    assert_eq!(parse_go_int("0x10", 10), Err(NumError::Syntax));
    assert_eq!(parse_go_int("", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("-", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("0x", 0), Err(NumError::Syntax));
    assert_eq!(parse_go_int("9223372036854775807", 10), Ok(i64::MAX));
    assert_eq!(parse_go_int("-9223372036854775808", 10), Ok(i64::MIN));
    assert_eq!(
        parse_go_int("9223372036854775808", 10),
        Err(NumError::Range)
    );
    assert_eq!(parse_go_uint("-1", 0), Err(NumError::Syntax));
}

#[test]
fn go_float_text() {
    assert_eq!(go_format_float(1.0), "1");
    assert_eq!(go_format_float(0.99), "0.99");
    assert_eq!(go_format_float(-1.5), "-1.5");
    assert_eq!(go_format_float(123456.0), "123456");
    assert_eq!(go_format_float(999999.5), "999999.5");
    assert_eq!(go_format_float(1e6), "1e+06");
    assert_eq!(go_format_float(1234567.0), "1.234567e+06");
    assert_eq!(go_format_float(1e21), "1e+21");
    assert_eq!(go_format_float(0.0001), "0.0001");
    assert_eq!(go_format_float(0.00001), "1e-05");
    assert_eq!(go_format_float(1.5e-7), "1.5e-07");
    assert_eq!(go_format_float(0.0), "0");
    assert_eq!(go_format_float(f64::NAN), "NaN");
    assert_eq!(go_format_float(f64::INFINITY), "+Inf");
}

#[test]
fn go_quoting() {
    assert_eq!(go_quote("[nsqd] "), r#""[nsqd] ""#);
    assert_eq!(go_quote("a\"b\\c\n\t\u{1}"), r#""a\"b\\c\n\t\x01""#);
    assert_eq!(go_quote("µs"), "\"µs\"");
}
