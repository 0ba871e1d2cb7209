//! Our own evaluator for gettext `Plural-Forms` expressions (C syntax).
//!
//! The gettext crate 0.4 misparses `&&` chains that are not parenthesised (it splits at
//! the first operator it finds rather than by precedence), so catalogues are loaded with
//! a forced identity resolver and the plural index is computed here.

use thiserror::Error;

/// Why a `Plural-Forms` header could not be understood.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PluralError {
    /// The header has no `nplurals=` or it is not a number from 1 to 6.
    #[error("Plural-Forms: bad or missing nplurals")]
    NPlurals,
    /// The header has no `plural=` expression.
    #[error("Plural-Forms: missing plural=")]
    Missing,
    /// The expression does not parse.
    #[error("Plural-Forms: cannot parse expression at {0:?}")]
    Syntax(String),
}

/// A parsed `Plural-Forms` header: how many forms and which one to use for `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluralForms {
    /// The number of plural forms (`nplurals`).
    pub nplurals: usize,
    expr: Expr,
}

impl PluralForms {
    /// The English (and Dutch, German) rule: `nplurals=2; plural=(n != 1);`.
    pub fn germanic() -> Self {
        Self::parse("nplurals=2; plural=(n != 1);").unwrap_or(PluralForms {
            nplurals: 2,
            expr: Expr::Num(0),
        })
    }

    /// Parses the value of a `Plural-Forms` header.
    pub fn parse(header: &str) -> Result<Self, PluralError> {
        let mut nplurals = None;
        let mut expr = None;
        for part in header.split(';') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("nplurals=") {
                nplurals = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=6).contains(n));
                if nplurals.is_none() {
                    return Err(PluralError::NPlurals);
                }
            } else if let Some(v) = part.strip_prefix("plural=") {
                expr = Some(parse_expr(v)?);
            }
        }
        Ok(PluralForms {
            nplurals: nplurals.ok_or(PluralError::NPlurals)?,
            expr: expr.ok_or(PluralError::Missing)?,
        })
    }

    /// The index of the plural form for `n`, always below `nplurals`.
    pub fn index(&self, n: u64) -> usize {
        let v = self.expr.eval(n);
        usize::try_from(v)
            .ok()
            .filter(|&i| i < self.nplurals)
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    N,
    Num(u64),
    Not(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Expr {
    fn eval(&self, n: u64) -> u64 {
        match self {
            Expr::N => n,
            Expr::Num(v) => *v,
            Expr::Not(e) => u64::from(e.eval(n) == 0),
            Expr::If(c, a, b) => {
                if c.eval(n) != 0 {
                    a.eval(n)
                } else {
                    b.eval(n)
                }
            }
            Expr::Bin(op, a, b) => {
                let x = a.eval(n);
                // `||` and `&&` short-circuit as in C.
                match op {
                    Op::Or => return u64::from(x != 0 || b.eval(n) != 0),
                    Op::And => return u64::from(x != 0 && b.eval(n) != 0),
                    _ => {}
                }
                let y = b.eval(n);
                match op {
                    Op::Eq => u64::from(x == y),
                    Op::Ne => u64::from(x != y),
                    Op::Lt => u64::from(x < y),
                    Op::Le => u64::from(x <= y),
                    Op::Gt => u64::from(x > y),
                    Op::Ge => u64::from(x >= y),
                    Op::Add => x.wrapping_add(y),
                    Op::Sub => x.wrapping_sub(y),
                    Op::Mul => x.wrapping_mul(y),
                    Op::Div => x.checked_div(y).unwrap_or(0),
                    Op::Rem => x.checked_rem(y).unwrap_or(0),
                    Op::Or | Op::And => 0,
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    N,
    Num(u64),
    Op(&'static str),
}

fn lex(src: &str) -> Result<Vec<Tok>, PluralError> {
    const OPS: [&str; 19] = [
        "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", "(",
        ")", ";",
    ];
    let mut out = Vec::new();
    let mut rest = src.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('n') {
            out.push(Tok::N);
            rest = r;
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let v = rest[..end]
                .parse()
                .map_err(|_| PluralError::Syntax(rest.into()))?;
            out.push(Tok::Num(v));
            rest = &rest[end..];
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            if *op == ";" {
                break;
            }
            out.push(Tok::Op(op));
            rest = &rest[op.len()..];
        } else {
            return Err(PluralError::Syntax(rest.into()));
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn parse_expr(src: &str) -> Result<Expr, PluralError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    let e = p.ternary(0)?;
    if p.pos != p.toks.len() {
        return Err(PluralError::Syntax(src.into()));
    }
    Ok(e)
}

/// Binary operators by precedence level, lowest first.
const LEVELS: [&[(&str, Op)]; 6] = [
    &[("||", Op::Or)],
    &[("&&", Op::And)],
    &[("==", Op::Eq), ("!=", Op::Ne)],
    &[("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)],
    &[("+", Op::Add), ("-", Op::Sub)],
    &[("*", Op::Mul), ("/", Op::Div), ("%", Op::Rem)],
];

impl Parser {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), PluralError> {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(PluralError::Syntax(format!("expected {op}")))
        }
    }

    fn ternary(&mut self, depth: usize) -> Result<Expr, PluralError> {
        if depth > 64 {
            return Err(PluralError::Syntax("nested too deeply".into()));
        }
        let cond = self.binary(0, depth)?;
        if self.peek_op() == Some("?") {
            self.pos += 1;
            let a = self.ternary(depth + 1)?;
            self.expect(":")?;
            let b = self.ternary(depth + 1)?;
            return Ok(Expr::If(Box::new(cond), Box::new(a), Box::new(b)));
        }
        Ok(cond)
    }

    fn binary(&mut self, level: usize, depth: usize) -> Result<Expr, PluralError> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(depth);
        };
        let mut left = self.binary(level + 1, depth)?;
        while let Some(&(_, op)) = self
            .peek_op()
            .and_then(|t| ops.iter().find(|(s, _)| *s == t))
        {
            self.pos += 1;
            let right = self.binary(level + 1, depth)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, PluralError> {
        if depth > 64 {
            return Err(PluralError::Syntax("nested too deeply".into()));
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::N) => {
                self.pos += 1;
                Ok(Expr::N)
            }
            Some(Tok::Num(v)) => {
                self.pos += 1;
                Ok(Expr::Num(v))
            }
            Some(Tok::Op("!")) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let e = self.ternary(depth + 1)?;
                self.expect(")")?;
                Ok(e)
            }
            other => Err(PluralError::Syntax(format!("unexpected {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RU: &str = "nplurals=3; plural=n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2;";

    #[test]
    fn germanic() {
        let p = PluralForms::germanic();
        assert_eq!(p.nplurals, 2);
        assert_eq!((p.index(0), p.index(1), p.index(2)), (1, 0, 1));
    }

    #[test]
    fn russian_with_unparenthesised_and() {
        let p = PluralForms::parse(RU).unwrap();
        let want = |n: u64| {
            if n % 10 == 1 && n % 100 != 11 {
                0
            } else if (2..=4).contains(&(n % 10)) && !(10..20).contains(&(n % 100)) {
                1
            } else {
                2
            }
        };
        for n in 0..1000 {
            assert_eq!(p.index(n), want(n), "n={n}");
        }
        assert_eq!(
            (p.index(1), p.index(3), p.index(11), p.index(21)),
            (0, 1, 2, 0)
        );
    }

    #[test]
    fn polish_and_arabic() {
        let pl = PluralForms::parse("nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);").unwrap();
        assert_eq!(
            (
                pl.index(1),
                pl.index(2),
                pl.index(5),
                pl.index(22),
                pl.index(12)
            ),
            (0, 1, 2, 1, 2)
        );
        let ar = PluralForms::parse("nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5;").unwrap();
        let got: Vec<_> = [0, 1, 2, 5, 50, 100].iter().map(|&n| ar.index(n)).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn precedence_and_errors() {
        let p = PluralForms::parse("nplurals=2; plural=n+1*2==5 || !n;").unwrap();
        assert_eq!((p.index(3), p.index(0), p.index(4)), (1, 1, 0));
        let div0 = PluralForms::parse("nplurals=2; plural=n/0;").unwrap();
        assert_eq!(div0.index(7), 0);
        for bad in [
            "plural=n;",
            "nplurals=x; plural=n;",
            "nplurals=2;",
            "nplurals=2; plural=n ==;",
            "nplurals=2; plural=(n;",
            "nplurals=2; plural=n $ 1;",
        ] {
            assert!(PluralForms::parse(bad).is_err(), "{bad}");
        }
        assert!(PluralForms::parse(&format!("nplurals=2; plural={}n;", "!".repeat(500))).is_err());
        let deep = format!(
            "nplurals=2; plural={}n{};",
            "(".repeat(200),
            ")".repeat(200)
        );
        assert!(PluralForms::parse(&deep).is_err());
        // An out-of-range index falls back to form 0 rather than panicking later.
        assert_eq!(
            PluralForms::parse("nplurals=2; plural=n;")
                .unwrap()
                .index(9),
            0
        );
    }
}
