//! The functions a plan may call inside `${…}` in request text (a URL, a header, a body, an
//! `expect` value): a fixed, documented set, no general scripting.
//!
//! `uuid()`, `random_int(a, b)`, `random_string(n)`, `now_ms()`, `now_rfc3339()` give a fresh
//! value on every request; `base64(x)`, `url_encode(x)`, `sha256_hex(x)`, `hmac_sha256_hex(key,
//! msg)` transform their arguments (evaluated once at load when their arguments are known then).
//! Arguments are variable names written bare (`base64(USER)`), quoted text (`'abc'` or `"abc"`),
//! whole numbers, or calls (`base64(sha256_hex(BODY))`).
//!
//! Input: the text inside `${…}`. Output: an [`Expr`] checked for known names and arity (with a
//! did-you-mean), and [`Func::apply`], which computes a value. Must not show a value in a message:
//! an argument may be a secret.

use serde::{Deserialize, Serialize};

/// A function of the fixed set (and `or`, which `${NAME:-default}` becomes at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Func {
    Uuid,
    RandomInt,
    RandomString,
    NowMs,
    NowRfc3339,
    Base64,
    UrlEncode,
    Sha256Hex,
    HmacSha256Hex,
    /// The first argument unless it is empty, else the second: `${NAME:-default}` for a capture
    /// or a data column.
    Or,
}

/// Every function a plan may name: (name, parameters, function).
const FUNCTIONS: &[(&str, &[&str], Func)] = &[
    ("uuid", &[], Func::Uuid),
    ("random_int", &["a", "b"], Func::RandomInt),
    ("random_string", &["n"], Func::RandomString),
    ("now_ms", &[], Func::NowMs),
    ("now_rfc3339", &[], Func::NowRfc3339),
    ("base64", &["x"], Func::Base64),
    ("url_encode", &["x"], Func::UrlEncode),
    ("sha256_hex", &["x"], Func::Sha256Hex),
    ("hmac_sha256_hex", &["key", "msg"], Func::HmacSha256Hex),
];

/// `random_string(n)` makes at most this many characters.
pub const MAX_RANDOM_STRING: u64 = 65_536;

impl Func {
    /// Whether it gives a new value on every call (so it is computed per request).
    pub fn fresh(self) -> bool {
        matches!(
            self,
            Func::Uuid | Func::RandomInt | Func::RandomString | Func::NowMs | Func::NowRfc3339
        )
    }

    /// The value for these arguments. An argument that is not what the function takes (a
    /// capture that is not a number for `random_int`) gives an empty value, never a panic.
    pub fn apply(self, args: &[String]) -> String {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        match self {
            Func::Uuid => {
                let mut b: [u8; 16] = fastrand::u128(..).to_le_bytes();
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                let hex = hex(&b);
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }
            Func::RandomInt => match (arg(0).trim().parse::<i64>(), arg(1).trim().parse::<i64>()) {
                (Ok(a), Ok(b)) if a <= b => fastrand::i64(a..=b).to_string(),
                _ => String::new(),
            },
            Func::RandomString => {
                let n = arg(0)
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
                    .min(MAX_RANDOM_STRING);
                (0..n).map(|_| fastrand::alphanumeric()).collect()
            }
            Func::NowMs => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                .to_string(),
            Func::NowRfc3339 => jiff::Timestamp::now()
                .round(jiff::Unit::Millisecond)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            Func::Base64 => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(arg(0))
            }
            Func::UrlEncode => url_encode(arg(0)),
            Func::Sha256Hex => {
                use sha2::Digest as _;
                hex(&sha2::Sha256::digest(arg(0).as_bytes()))
            }
            Func::HmacSha256Hex => {
                use hmac::Mac as _;
                match hmac::Hmac::<sha2::Sha256>::new_from_slice(arg(0).as_bytes()) {
                    Ok(mut mac) => {
                        mac.update(arg(1).as_bytes());
                        hex(&mac.finalize().into_bytes())
                    }
                    Err(_) => String::new(),
                }
            }
            Func::Or => {
                if arg(0).is_empty() {
                    arg(1).to_string()
                } else {
                    arg(0).to_string()
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What `${…}` holds beyond a plain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A variable: the environment, a capture or a data column.
    Var(String),
    /// Quoted text or a number, as written.
    Lit(String),
    Call(Func, Vec<Expr>),
    /// `${NAME:-default}`: the variable unless it is unset or empty, else the text.
    Or(String, String),
}

impl Expr {
    /// The variables it reads, in order.
    pub fn names<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Var(n) | Expr::Or(n, _) => {
                if !out.contains(&n.as_str()) {
                    out.push(n);
                }
            }
            Expr::Lit(_) => {}
            Expr::Call(_, args) => args.iter().for_each(|a| a.names(out)),
        }
    }
}

/// The names of the functions, as a message lists them.
pub fn listing() -> String {
    FUNCTIONS
        .iter()
        .map(|(n, p, _)| format!("{n}({})", p.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses what stands inside `${…}` when it is not a plain name: a default or a call.
pub fn parse(inner: &str) -> Result<Expr, String> {
    if let Some((name, default)) = inner.split_once(":-") {
        if super::spec::is_variable_name(name.trim()) {
            return Ok(Expr::Or(name.trim().to_string(), default.to_string()));
        }
    }
    let mut p = Parser { s: inner, at: 0 };
    let e = p.expr()?;
    p.space();
    match e {
        Expr::Call(..) if p.at >= p.s.len() => Ok(e),
        Expr::Call(..) => Err(format!(
            "`${{{inner}}}`: unexpected `{}` after the call",
            &p.s[p.at..]
        )),
        _ => Err(format!(
            "`${{{inner}}}` is not a valid variable reference or function call: names are letters, digits and _; functions are {}",
            listing()
        )),
    }
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.s[self.at..].starts_with([' ', '\t']) {
            self.at += 1;
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.space();
        let rest = &self.s[self.at..];
        let Some(first) = rest.chars().next() else {
            return Err("an argument is missing".into());
        };
        if first == '\'' || first == '"' {
            let Some(end) = rest[1..].find(first) else {
                return Err(format!("unclosed {first} in `${{{}}}`", self.s));
            };
            self.at += end + 2;
            return Ok(Expr::Lit(rest[1..=end].to_string()));
        }
        if let Some(inner) = rest.strip_prefix("${") {
            // `${NAME}` inside a call reads as the bare name.
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `${{{}}}`", self.s))?;
            let name = &inner[..end];
            if !super::spec::is_variable_name(name) {
                return Err(format!(
                    "`${{{name}}}` is not a valid variable reference: names are letters, digits and _"
                ));
            }
            self.at += end + 3;
            return Ok(Expr::Var(name.to_string()));
        }
        if first.is_ascii_digit() || first == '-' {
            let len = rest
                .char_indices()
                .skip(1)
                .find(|(_, c)| !c.is_ascii_digit())
                .map_or(rest.len(), |(i, _)| i);
            let num = &rest[..len];
            if num.parse::<i64>().is_err() {
                return Err(format!("`{num}` is not a whole number"));
            }
            self.at += len;
            return Ok(Expr::Lit(num.to_string()));
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        if !super::spec::is_variable_name(name) {
            return Err(format!(
                "`${{{}}}`: expected a name, quoted text, a number or a call at `{rest}`",
                self.s
            ));
        }
        self.at += len;
        self.space();
        if !self.s[self.at..].starts_with('(') {
            return Ok(Expr::Var(name.to_string()));
        }
        self.at += 1;
        let mut args = Vec::new();
        self.space();
        if self.s[self.at..].starts_with(')') {
            self.at += 1;
        } else {
            loop {
                args.push(self.expr()?);
                self.space();
                if self.s[self.at..].starts_with(',') {
                    self.at += 1;
                } else if self.s[self.at..].starts_with(')') {
                    self.at += 1;
                    break;
                } else {
                    return Err(format!(
                        "`${{{}}}`: expected `,` or `)` after an argument of `{name}`",
                        self.s
                    ));
                }
            }
        }
        let Some((_, params, func)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
            let hint = super::suggest(name, FUNCTIONS.iter().map(|(n, _, _)| *n))
                .map(|n| format!(", did you mean `{n}()`?"))
                .unwrap_or_default();
            return Err(format!(
                "unknown function `{name}()`{hint} (functions: {})",
                listing()
            ));
        };
        if params.len() != args.len() {
            return Err(format!(
                "`{name}` takes {} ({}), not {}",
                match params.len() {
                    0 => "no arguments".to_string(),
                    1 => "1 argument".to_string(),
                    n => format!("{n} arguments"),
                },
                params.join(", "),
                args.len()
            ));
        }
        check_literals(*func, &args)?;
        Ok(Expr::Call(*func, args))
    }
}

/// Arguments written as literals are checked at load.
fn check_literals(func: Func, args: &[Expr]) -> Result<(), String> {
    let lit = |i: usize| match args.get(i) {
        Some(Expr::Lit(s)) => Some(s.as_str()),
        _ => None,
    };
    match func {
        Func::RandomInt => {
            let nums: Vec<Option<i64>> = (0..2)
                .map(|i| lit(i).map(|s| s.parse().unwrap_or(i64::MIN)))
                .collect();
            for (i, n) in nums.iter().enumerate() {
                if *n == Some(i64::MIN) {
                    return Err(format!(
                        "`random_int` takes whole numbers; argument {} is not one",
                        i + 1
                    ));
                }
            }
            if let [Some(a), Some(b)] = nums[..] {
                if a > b {
                    return Err(format!(
                        "`random_int({a}, {b})`: the first is above the second"
                    ));
                }
            }
            Ok(())
        }
        Func::RandomString => match lit(0).map(str::parse::<u64>) {
            Some(Ok(n)) if n <= MAX_RANDOM_STRING => Ok(()),
            Some(_) => Err(format!(
                "`random_string(n)` takes a whole number from 0 to {MAX_RANDOM_STRING}"
            )),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_or_say_why() {
        let ok: &[(&str, Expr)] = &[
            ("uuid()", Expr::Call(Func::Uuid, vec![])),
            (
                "random_int(1, 10)",
                Expr::Call(
                    Func::RandomInt,
                    vec![Expr::Lit("1".into()), Expr::Lit("10".into())],
                ),
            ),
            (
                "hmac_sha256_hex(KEY, base64('a,b)'))",
                Expr::Call(
                    Func::HmacSha256Hex,
                    vec![
                        Expr::Var("KEY".into()),
                        Expr::Call(Func::Base64, vec![Expr::Lit("a,b)".into())]),
                    ],
                ),
            ),
            ("USERS:-10", Expr::Or("USERS".into(), "10".into())),
            (
                "base64(${USER})",
                Expr::Call(Func::Base64, vec![Expr::Var("USER".into())]),
            ),
        ];
        for (text, want) in ok {
            assert_eq!(parse(text).as_ref(), Ok(want), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("uid()", "unknown function `uid()`, did you mean `uuid()`?"),
            (
                "random_int(1)",
                "`random_int` takes 2 arguments (a, b), not 1",
            ),
            ("uuid(1)", "takes no arguments"),
            ("random_int(5, 1)", "the first is above the second"),
            ("random_string('x')", "whole number"),
            ("base64(", "an argument is missing"),
            ("bad-name", "not a valid variable reference"),
            ("base64('x", "unclosed"),
        ];
        for (text, msg) in bad {
            let e = parse(text).expect_err(text);
            assert!(e.contains(msg), "{text}: {e}");
        }
    }

    #[test]
    fn functions_compute_their_values() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert_eq!(Func::Base64.apply(&s(&["user:pw"])), "dXNlcjpwdw==");
        assert_eq!(
            Func::UrlEncode.apply(&s(&["a b&c/é"])),
            "a%20b%26c%2F%C3%A9"
        );
        assert_eq!(
            Func::Sha256Hex.apply(&s(&["abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231, test case 2.
        assert_eq!(
            Func::HmacSha256Hex.apply(&s(&["Jefe", "what do ya want for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(Func::Or.apply(&s(&["", "d"])), "d");
        assert_eq!(Func::Or.apply(&s(&["v", "d"])), "v");
        let u = Func::Uuid.apply(&[]);
        assert_eq!((u.len(), &u[14..15]), (36, "4"), "{u}");
        assert_ne!(u, Func::Uuid.apply(&[]));
        for _ in 0..100 {
            let n: i64 = Func::RandomInt
                .apply(&s(&["3", "5"]))
                .parse()
                .expect("a number");
            assert!((3..=5).contains(&n));
        }
        assert_eq!(Func::RandomInt.apply(&s(&["x", "5"])), "");
        assert_eq!(Func::RandomString.apply(&s(&["12"])).len(), 12);
        assert!(Func::NowRfc3339.apply(&[]).ends_with('Z'));
        assert!(Func::NowMs.apply(&[]).parse::<u64>().is_ok());
    }
}
