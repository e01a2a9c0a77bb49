//! Label selectors and field selectors, parsed from the `labelSelector` and `fieldSelector`
//! query parameters (or a `metav1.LabelSelector` object) and evaluated against stored objects.

use std::fmt;

use serde_json::{Map, Value};

/// Why a selector could not be parsed or is not supported.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelectorError {
    /// A label selector string is malformed.
    #[error("unable to parse requirement: {0}")]
    Label(String),
    /// A `metav1.LabelSelector` object (`matchLabels` and `matchExpressions`) is malformed.
    #[error("{0}")]
    LabelSelectorObject(String),
    /// A field selector string is malformed.
    #[error("{selector:?} is not a valid field selector: {reason}")]
    Field {
        /// The whole field selector.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field selector uses a field the kind does not support.
    #[error("field label not supported: {0}")]
    FieldNotSupported(String),
}

/// The operator of a label requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelOp {
    /// `key=value`, `key==value` and `key in (values)`: the label has one of the values.
    In,
    /// `key!=value` and `key notin (values)`: the label is absent or has none of the values.
    NotIn,
    /// `key`: the label exists.
    Exists,
    /// `!key`: the label does not exist.
    DoesNotExist,
    /// `key>n`: the label is an integer greater than n.
    GreaterThan,
    /// `key<n`: the label is an integer less than n.
    LessThan,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
struct LabelRequirement {
    /// The label key.
    key: String,
    /// The operator.
    op: LabelOp,
    /// The values, sorted and without duplicates; one value for `=`, `!=`, `>` and `<`.
    values: Vec<String>,
    /// Whether the requirement was written with `=`, `==` or `!=` rather than `in` or `notin`.
    single: bool,
}

impl LabelRequirement {
    /// Builds a requirement, sorting and deduplicating its values.
    fn new(key: String, op: LabelOp, mut values: Vec<String>, single: bool) -> Self {
        values.sort();
        values.dedup();
        Self { key, op, values, single }
    }

    /// Whether a set of labels satisfies this requirement.
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels.and_then(|labels| labels.get(&self.key)).and_then(Value::as_str);
        match self.op {
            LabelOp::In => value.is_some_and(|v| self.values.iter().any(|w| w == v)),
            LabelOp::NotIn => !value.is_some_and(|v| self.values.iter().any(|w| w == v)),
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                let have = value.and_then(|v| v.parse::<i64>().ok());
                let bound = self.values.first().and_then(|v| v.parse::<i64>().ok());
                match (have, bound) {
                    (Some(have), Some(bound)) if self.op == LabelOp::GreaterThan => have > bound,
                    (Some(have), Some(bound)) => have < bound,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        let values = self.values.join(",");
        match self.op {
            LabelOp::In if self.single => write!(f, "{key}={values}"),
            LabelOp::NotIn if self.single => write!(f, "{key}!={values}"),
            LabelOp::In => write!(f, "{key} in ({values})"),
            LabelOp::NotIn => write!(f, "{key} notin ({values})"),
            LabelOp::Exists => write!(f, "{key}"),
            LabelOp::DoesNotExist => write!(f, "!{key}"),
            LabelOp::GreaterThan => write!(f, "{key}>{values}"),
            LabelOp::LessThan => write!(f, "{key}<{values}"),
        }
    }
}

/// A label selector: a conjunction of requirements on an object's labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelSelector {
    /// The requirements, sorted by key; all must hold.
    requirements: Vec<LabelRequirement>,
}

/// A token of the label selector syntax.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A key or a value.
    Ident(String),
    /// `,`
    Comma,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `=`
    Equals,
    /// `==`
    DoubleEquals,
    /// `!=`
    NotEquals,
    /// `!`
    Not,
    /// `>`
    Greater,
    /// `<`
    Less,
    /// `in`
    In,
    /// `notin`
    NotIn,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "{s}"),
            Token::Comma => write!(f, ","),
            Token::Open => write!(f, "("),
            Token::Close => write!(f, ")"),
            Token::Equals => write!(f, "="),
            Token::DoubleEquals => write!(f, "=="),
            Token::NotEquals => write!(f, "!="),
            Token::Not => write!(f, "!"),
            Token::Greater => write!(f, ">"),
            Token::Less => write!(f, "<"),
            Token::In => write!(f, "in"),
            Token::NotIn => write!(f, "notin"),
        }
    }
}

/// Splits a label selector into tokens; identifiers run until whitespace or a special character.
fn tokenize(s: &str) -> Vec<Token> {
    let is_special = |c: char| matches!(c, ',' | '(' | ')' | '=' | '!' | '>' | '<');
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            ',' => Token::Comma,
            '(' => Token::Open,
            ')' => Token::Close,
            '>' => Token::Greater,
            '<' => Token::Less,
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::DoubleEquals
            }
            '=' => Token::Equals,
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::NotEquals
            }
            '!' => Token::Not,
            first => {
                let mut ident = String::from(first);
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || is_special(c) {
                        break;
                    }
                    ident.push(c);
                    chars.next();
                }
                match ident.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(ident),
                }
            }
        };
        tokens.push(token);
    }
    tokens
}

/// A recursive-descent parser over the tokens of a label selector.
struct Parser {
    /// The tokens.
    tokens: Vec<Token>,
    /// The position of the next token.
    pos: usize,
}

impl Parser {
    /// The next token, without consuming it.
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// Consumes and returns the next token.
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    /// The error for an unexpected token (or the end of the string).
    fn unexpected(found: Option<&Token>, expected: &str) -> SelectorError {
        let found = found.map(ToString::to_string).unwrap_or_default();
        SelectorError::Label(format!("found '{found}', expected: {expected}"))
    }

    /// Parses `requirement ("," requirement)*`.
    fn parse_all(&mut self) -> Result<Vec<LabelRequirement>, SelectorError> {
        let mut requirements = Vec::new();
        if self.peek().is_none() {
            return Ok(requirements);
        }
        loop {
            requirements.push(self.parse_requirement()?);
            match self.next() {
                None => return Ok(requirements),
                Some(Token::Comma) => {}
                Some(other) => return Err(Self::unexpected(Some(&other), "',' or 'end of string'")),
            }
        }
    }

    /// Parses one requirement: `!key`, `key`, `key op value` or `key in|notin (values)`.
    fn parse_requirement(&mut self) -> Result<LabelRequirement, SelectorError> {
        let key = match self.next() {
            Some(Token::Not) => {
                let key = match self.next() {
                    Some(Token::Ident(key)) => key,
                    other => return Err(Self::unexpected(other.as_ref(), "identifier after '!'")),
                };
                validate_label_key(&key)?;
                return Ok(LabelRequirement::new(key, LabelOp::DoesNotExist, Vec::new(), false));
            }
            Some(Token::Ident(key)) => key,
            other => return Err(Self::unexpected(other.as_ref(), "!, identifier")),
        };
        validate_label_key(&key)?;
        let (op, single) = match self.peek() {
            None | Some(Token::Comma) => return Ok(LabelRequirement::new(key, LabelOp::Exists, Vec::new(), false)),
            Some(Token::Equals | Token::DoubleEquals) => (LabelOp::In, true),
            Some(Token::NotEquals) => (LabelOp::NotIn, true),
            Some(Token::In) => (LabelOp::In, false),
            Some(Token::NotIn) => (LabelOp::NotIn, false),
            Some(Token::Greater) => (LabelOp::GreaterThan, true),
            Some(Token::Less) => (LabelOp::LessThan, true),
            other => return Err(Self::unexpected(other, "'=', '!=', '==', 'in', 'notin', '>', '<'")),
        };
        self.pos += 1;
        let values = if single { vec![self.parse_single_value()?] } else { self.parse_value_list()? };
        for value in &values {
            validate_label_value(value)?;
        }
        if matches!(op, LabelOp::GreaterThan | LabelOp::LessThan) && values.iter().any(|v| v.parse::<i64>().is_err()) {
            return Err(SelectorError::Label(format!(
                "for 'Gt', 'Lt' operators, the value must be an integer: {:?}",
                values.join(",")
            )));
        }
        Ok(LabelRequirement::new(key, op, values, single))
    }

    /// Parses the value after `=`, `==`, `!=`, `>` or `<`, which may be empty.
    fn parse_single_value(&mut self) -> Result<String, SelectorError> {
        match self.peek() {
            None | Some(Token::Comma) => Ok(String::new()),
            Some(Token::Ident(value)) => {
                let value = value.clone();
                self.pos += 1;
                Ok(value)
            }
            // Kubernetes lexes `in` and `notin` as keywords, but they are fine as values.
            Some(Token::In) => {
                self.pos += 1;
                Ok("in".into())
            }
            Some(Token::NotIn) => {
                self.pos += 1;
                Ok("notin".into())
            }
            other => Err(Self::unexpected(other, "identifier")),
        }
    }

    /// Parses `( value, value, ... )` after `in` or `notin`.
    fn parse_value_list(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Some(Token::Open) => {}
            other => return Err(Self::unexpected(other.as_ref(), "'('")),
        }
        if self.peek() == Some(&Token::Close) {
            return Err(SelectorError::Label("for 'in', 'notin' operators, values set can't be empty".into()));
        }
        let mut values = Vec::new();
        loop {
            let value = match self.peek() {
                Some(Token::Comma | Token::Close) => String::new(),
                Some(Token::Ident(value)) => {
                    let value = value.clone();
                    self.pos += 1;
                    value
                }
                other => return Err(Self::unexpected(other, "identifier, ',', ')'")),
            };
            values.push(value);
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => return Ok(values),
                other => return Err(Self::unexpected(other.as_ref(), "',', ')'")),
            }
        }
    }
}

/// Whether a string matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_name_like(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Whether a string is a DNS subdomain (RFC 1123): lowercase labels joined by dots, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    (first.is_ascii_lowercase() || first.is_ascii_digit())
                        && (last.is_ascii_lowercase() || last.is_ascii_digit())
                        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                }
                _ => false,
            }
        })
}

/// The Kubernetes explanation of a valid name part.
const NAME_RULE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')";

/// Checks a label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters.
fn validate_label_key(key: &str) -> Result<(), SelectorError> {
    let invalid = |reason: &str| SelectorError::Label(format!("invalid label key {key:?}: {reason}"));
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                return Err(invalid("prefix part must be non-empty"));
            }
            if !is_dns_subdomain(prefix) {
                return Err(invalid("prefix part must be a lowercase RFC 1123 subdomain of at most 253 characters"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() {
        return Err(invalid("name part must be non-empty"));
    }
    if name.len() > 63 {
        return Err(invalid("name part must be no more than 63 characters"));
    }
    if !is_name_like(name) {
        return Err(invalid(NAME_RULE));
    }
    Ok(())
}

/// Checks a label value: empty, or at most 63 characters of `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn validate_label_value(value: &str) -> Result<(), SelectorError> {
    if value.len() > 63 {
        return Err(SelectorError::Label(format!("invalid label value {value:?}: must be no more than 63 characters")));
    }
    if !value.is_empty() && !is_name_like(value) {
        return Err(SelectorError::Label(format!(
            "invalid label value {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )));
    }
    Ok(())
}

impl LabelSelector {
    /// Parses a label selector string such as `app=web,tier in (a,b),!legacy`; an empty string
    /// selects everything.
    pub(crate) fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser { tokens: tokenize(s), pos: 0 };
        let mut requirements = parser.parse_all()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    /// Whether an object's labels (its `metadata.labels`, if any) satisfy every requirement.
    pub(crate) fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub(crate) fn matches_object(&self, obj: &Value) -> bool {
        self.matches(obj.pointer("/metadata/labels").and_then(Value::as_object))
    }

    /// Whether the selector has no requirements and so selects everything.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl fmt::Display for LabelSelector {
    /// Writes the selector in the string syntax, as Kubernetes does for `status.selector`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// Builds a label selector from a `metav1.LabelSelector` object such as a Deployment's
/// `spec.selector`: `{"matchLabels": {..}, "matchExpressions": [{"key", "operator", "values"}]}`.
/// `null` and `{}` select everything.
pub(crate) fn from_label_selector_json(sel: &Value) -> Result<LabelSelector, SelectorError> {
    let invalid = |message: String| SelectorError::LabelSelectorObject(message);
    let sel = match sel {
        Value::Null => return Ok(LabelSelector { requirements: Vec::new() }),
        Value::Object(sel) => sel,
        other => return Err(invalid(format!("a label selector must be an object, not {other}"))),
    };
    let mut requirements = Vec::new();
    match sel.get("matchLabels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (key, value) in labels {
                let Value::String(value) = value else {
                    return Err(invalid(format!("matchLabels[{key}]: the value must be a string, not {value}")));
                };
                validate_label_key(key)?;
                validate_label_value(value)?;
                requirements.push(LabelRequirement::new(key.clone(), LabelOp::In, vec![value.clone()], true));
            }
        }
        Some(other) => return Err(invalid(format!("matchLabels must be an object, not {other}"))),
    }
    match sel.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(expressions)) => {
            for (i, expression) in expressions.iter().enumerate() {
                requirements.push(parse_match_expression(i, expression)?);
            }
        }
        Some(other) => return Err(invalid(format!("matchExpressions must be a list, not {other}"))),
    }
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LabelSelector { requirements })
}

/// Parses one element of `matchExpressions`.
fn parse_match_expression(i: usize, expression: &Value) -> Result<LabelRequirement, SelectorError> {
    let invalid = |message: String| SelectorError::LabelSelectorObject(format!("matchExpressions[{i}]: {message}"));
    let Some(key) = expression.get("key").and_then(Value::as_str) else {
        return Err(invalid("the key must be a string".into()));
    };
    validate_label_key(key)?;
    let operator = expression.get("operator").and_then(Value::as_str).unwrap_or_default();
    let mut values = Vec::new();
    match expression.get("values") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Value::String(value) = item else {
                    return Err(invalid(format!("the values must be strings, not {item}")));
                };
                validate_label_value(value)?;
                values.push(value.clone());
            }
        }
        Some(other) => return Err(invalid(format!("values must be a list, not {other}"))),
    }
    let op = match operator {
        "In" => LabelOp::In,
        "NotIn" => LabelOp::NotIn,
        "Exists" => LabelOp::Exists,
        "DoesNotExist" => LabelOp::DoesNotExist,
        other => return Err(invalid(format!("{other:?} is not a valid label selector operator"))),
    };
    match op {
        LabelOp::In | LabelOp::NotIn if values.is_empty() => {
            Err(invalid("for 'in', 'notin' operators, values set can't be empty".into()))
        }
        LabelOp::Exists | LabelOp::DoesNotExist if !values.is_empty() => {
            Err(invalid("values set must be empty for exists and does not exist".into()))
        }
        _ => Ok(LabelRequirement::new(key.to_owned(), op, values, false)),
    }
}

/// One requirement of a field selector.
#[derive(Debug, Clone, PartialEq)]
struct FieldRequirement {
    /// The field, such as `metadata.name`.
    field: String,
    /// Whether the requirement is `!=` rather than `=` or `==`.
    negated: bool,
    /// The value, unescaped.
    value: String,
}

/// A field selector: a conjunction of equality requirements on fields of an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldSelector {
    /// The requirements, in the order given; all must hold.
    requirements: Vec<FieldRequirement>,
}

/// Splits a field selector at its unescaped commas.
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Unescapes a field selector value: `\\`, `\,` and `\=` are the only escapes, and unescaped `,`
/// and `=` are not allowed.
fn unescape_value(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(c @ ('\\' | ',' | '=')) => out.push(c),
                Some(c) => return Err(format!("invalid escape sequence: \\{c}")),
                None => return Err("invalid escape sequence: \\".into()),
            },
            ',' | '=' => return Err(format!("unescaped character in value: {c}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Escapes a field selector value, the inverse of [`unescape_value`].
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fields every kind supports in field selectors.
const COMMON_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// The further fields some built-in kinds support in field selectors.
const KIND_FIELDS: &[(&str, &[&str])] = &[
    (
        "Event",
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
    ),
    (
        "Pod",
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
    ),
    ("Secret", &["type"]),
    ("Namespace", &["status.phase"]),
    ("Node", &["spec.unschedulable"]),
    ("ReplicaSet", &["status.replicas"]),
    ("ReplicationController", &["status.replicas"]),
    ("Job", &["status.successful"]),
    ("CertificateSigningRequest", &["spec.signerName"]),
];

/// The value of a (dotted) field of an object as a field selector sees it; a missing field is `""`.
fn field_value(obj: &Value, field: &str) -> String {
    let mut current = obj;
    for part in field.split('.') {
        match current.get(part) {
            Some(next) => current = next,
            None => return String::new(),
        }
    }
    // An Event's `source` field selects on `source.component`.
    if field == "source"
        && let Some(component) = current.get("component")
    {
        current = component;
    }
    match current {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
    }
}

impl FieldSelector {
    /// Parses a field selector string such as `metadata.name=web,status.phase!=Running`; an
    /// empty string selects everything.
    pub(crate) fn parse(s: &str) -> Result<Self, SelectorError> {
        let invalid = |reason: String| SelectorError::Field { selector: s.to_owned(), reason };
        let mut requirements = Vec::new();
        for term in split_terms(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let split = term.char_indices().find_map(|(i, _)| {
                let rest = &term[i..];
                ["!=", "==", "="].into_iter().find(|op| rest.starts_with(op)).map(|op| (i, op))
            });
            let Some((at, op)) = split else {
                return Err(invalid(format!(
                    "can't understand '{term}'; expected <field>=<value>, <field>==<value> or <field>!=<value>"
                )));
            };
            let field = term[..at].trim();
            if field.is_empty() {
                return Err(invalid(format!("'{term}' has no field name")));
            }
            let value = unescape_value(&term[at + op.len()..]).map_err(invalid)?;
            requirements.push(FieldRequirement { field: field.to_owned(), negated: op == "!=", value });
        }
        Ok(Self { requirements })
    }

    /// Checks that every field is supported for field selectors on the kind.
    pub(crate) fn validate_for(&self, kind: &str) -> Result<(), SelectorError> {
        let extra: &[&str] = KIND_FIELDS.iter().find(|(k, _)| *k == kind).map_or(&[], |(_, fields)| fields);
        match self.requirements.iter().find(|r| {
            let field = r.field.as_str();
            !COMMON_FIELDS.contains(&field) && !extra.contains(&field)
        }) {
            Some(r) => Err(SelectorError::FieldNotSupported(r.field.clone())),
            None => Ok(()),
        }
    }

    /// Whether an object satisfies every requirement; a missing field compares as `""`.
    pub(crate) fn matches_object(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|r| (field_value(obj, &r.field) == r.value) != r.negated)
    }

    /// Whether the selector has no requirements and so selects everything.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    /// Writes the selector in the string syntax, escaping values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            let op = if r.negated { "!=" } else { "=" };
            write!(f, "{}{op}{}", r.field, escape_value(&r.value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parses a label selector that must be valid.
    fn label(s: &str) -> LabelSelector {
        match LabelSelector::parse(s) {
            Ok(selector) => selector,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    /// Parses a field selector that must be valid.
    fn field(s: &str) -> FieldSelector {
        match FieldSelector::parse(s) {
            Ok(selector) => selector,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    /// An object with the given labels.
    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "labels": labels}})
    }

    #[test]
    fn an_empty_label_selector_selects_everything() {
        for s in ["", "   "] {
            let selector = label(s);
            assert!(selector.is_empty());
            assert!(selector.matches(None));
            assert!(selector.matches_object(&json!({})));
        }
    }

    #[test]
    fn equality_operators_match_the_value() {
        for s in ["app=web", "app==web", " app = web ", "app =web"] {
            let selector = label(s);
            assert!(!selector.is_empty());
            assert!(selector.matches_object(&labelled(json!({"app":"web","x":"y"}))), "{s}");
            assert!(!selector.matches_object(&labelled(json!({"app":"db"}))), "{s}");
            assert!(!selector.matches_object(&json!({"metadata":{}})), "{s}");
        }
    }

    #[test]
    fn inequality_matches_a_different_value_or_a_missing_label() {
        let selector = label("app!=web");
        assert!(!selector.matches_object(&labelled(json!({"app":"web"}))));
        assert!(selector.matches_object(&labelled(json!({"app":"db"}))));
        assert!(selector.matches_object(&json!({"metadata":{}})));
        assert!(selector.matches(None));
    }

    #[test]
    fn set_operators_match_membership() {
        let selector = label("env in (prod, staging)");
        assert!(selector.matches_object(&labelled(json!({"env":"prod"}))));
        assert!(selector.matches_object(&labelled(json!({"env":"staging"}))));
        assert!(!selector.matches_object(&labelled(json!({"env":"dev"}))));
        assert!(!selector.matches_object(&labelled(json!({}))));
        let selector = label("env notin (prod,staging)");
        assert!(!selector.matches_object(&labelled(json!({"env":"prod"}))));
        assert!(selector.matches_object(&labelled(json!({"env":"dev"}))));
        assert!(selector.matches_object(&labelled(json!({}))));
    }

    #[test]
    fn existence_operators_check_presence() {
        let selector = label("app");
        assert!(selector.matches_object(&labelled(json!({"app":""}))));
        assert!(!selector.matches_object(&labelled(json!({"other":"x"}))));
        let selector = label("!app");
        assert!(!selector.matches_object(&labelled(json!({"app":"x"}))));
        assert!(selector.matches_object(&labelled(json!({"other":"x"}))));
        assert!(selector.matches(None));
    }

    #[test]
    fn greater_and_less_than_compare_integers() {
        let selector = label("gen>5");
        assert!(selector.matches_object(&labelled(json!({"gen":"6"}))));
        assert!(!selector.matches_object(&labelled(json!({"gen":"5"}))));
        assert!(!selector.matches_object(&labelled(json!({"gen":"x"}))));
        assert!(!selector.matches_object(&labelled(json!({}))));
        assert!(label("gen<5").matches_object(&labelled(json!({"gen":"4"}))));
        assert!(LabelSelector::parse("gen>x").is_err());
    }

    #[test]
    fn requirements_separated_by_commas_must_all_hold() {
        let selector = label("app=web, tier in (front), !legacy,env!=dev,owner");
        assert!(selector.matches_object(&labelled(json!({"app":"web","tier":"front","owner":"me"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"web","tier":"front","owner":"me","legacy":"1"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"web","tier":"front"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"web","tier":"front","owner":"me","env":"dev"}))));
    }

    #[test]
    fn empty_values_are_allowed() {
        let selector = label("app=");
        assert!(selector.matches_object(&labelled(json!({"app":""}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"x"}))));
        assert!(!selector.matches_object(&labelled(json!({}))));
        assert!(label("app=,b").matches_object(&labelled(json!({"app":"","b":"1"}))));
        assert!(label("app in (a,)").matches_object(&labelled(json!({"app":""}))));
    }

    #[test]
    fn prefixed_keys_are_accepted() {
        let selector = label("app.kubernetes.io/name=web,kustomize.toolkit.fluxcd.io/name");
        let labels = json!({"app.kubernetes.io/name":"web","kustomize.toolkit.fluxcd.io/name":"flux-system"});
        assert!(selector.matches_object(&labelled(labels)));
    }

    #[test]
    fn non_string_label_values_never_match_a_value() {
        assert!(!label("a=1").matches_object(&labelled(json!({"a":1}))));
    }

    #[test]
    fn malformed_label_selectors_are_errors() {
        let too_long = format!("a={}", "x".repeat(64));
        let long_key = format!("{}=x", "k".repeat(64));
        let bad = [
            "a in",
            "a in (",
            "a in ()",
            "a in (x y)",
            "a in x",
            "a notin (x",
            "=a",
            "!",
            "!a=b",
            "a=b,",
            ",a",
            "a b",
            "a=b c",
            "a==(",
            "a=(b)",
            "a=-b",
            "a=b-",
            "-a=b",
            "a/b/c=d",
            "/a=b",
            "a/=b",
            "Foo.Com/a=b",
            "a=b!c",
            "a)",
            "a!=!",
            too_long.as_str(),
            long_key.as_str(),
        ];
        for s in bad {
            match LabelSelector::parse(s) {
                Err(SelectorError::Label(_)) => {}
                other => panic!("{s:?} should be a label error, got {other:?}"),
            }
        }
    }

    #[test]
    fn label_errors_read_like_kubernetes() {
        let message = LabelSelector::parse("a in").map(|_| ()).err().map(|e| e.to_string());
        assert_eq!(message.as_deref(), Some("unable to parse requirement: found '', expected: '('"));
        let message = LabelSelector::parse("a=b c").map(|_| ()).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("unable to parse requirement: found 'c', expected: ',' or 'end of string'")
        );
    }

    #[test]
    fn label_selectors_print_in_kubernetes_syntax() {
        let selector = label("b==2, a in (y,x,x), !c, d, e notin (z),f!=1");
        assert_eq!(selector.to_string(), "a in (x,y),b=2,!c,d,e notin (z),f!=1");
        assert_eq!(label(&selector.to_string()), selector);
    }

    #[test]
    fn the_order_of_requirements_does_not_matter() {
        assert_eq!(label("a=1,b=2"), label("b=2,a=1"));
    }

    #[test]
    fn a_label_selector_object_combines_labels_and_expressions() {
        let selector = from_label_selector_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "owner", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist", "values": []},
            ],
        }));
        let Ok(selector) = selector else { panic!("the selector should parse: {selector:?}") };
        assert!(selector.matches_object(&labelled(json!({"app":"web","tier":"edge","owner":"me"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"web","tier":"edge","owner":"me","env":"dev"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"web","tier":"edge"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"web","tier":"edge","owner":"me","legacy":"y"}))));
        assert!(!selector.matches_object(&labelled(json!({"app":"db","tier":"edge","owner":"me"}))));
        assert_eq!(selector.to_string(), "app=web,env notin (dev),!legacy,owner,tier in (edge,front)");
    }

    #[test]
    fn an_empty_or_null_label_selector_object_selects_everything() {
        for sel in
            [json!(null), json!({}), json!({"matchLabels":{},"matchExpressions":[]}), json!({"matchLabels":null})]
        {
            let selector = from_label_selector_json(&sel);
            assert!(selector.as_ref().is_ok_and(LabelSelector::is_empty), "{sel}");
        }
    }

    #[test]
    fn a_label_selector_object_equals_the_parsed_string() {
        let from_json = from_label_selector_json(&json!({"matchLabels":{"app":"web"}})).ok();
        assert_eq!(from_json, Some(label("app=web")));
    }

    #[test]
    fn malformed_label_selector_objects_are_errors() {
        let bad = [
            json!("app=web"),
            json!({"matchLabels": {"app": 1}}),
            json!({"matchLabels": ["app"]}),
            json!({"matchLabels": {"bad key": "x"}}),
            json!({"matchLabels": {"app": "-x"}}),
            json!({"matchExpressions": {"key": "a"}}),
            json!({"matchExpressions": [{"key": "a", "operator": "Foo", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "values": ["x"]}]}),
            json!({"matchExpressions": [{"operator": "In", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}),
        ];
        for sel in bad {
            assert!(from_label_selector_json(&sel).is_err(), "{sel}");
        }
        let message = from_label_selector_json(&json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}))
            .err()
            .map(|e| e.to_string());
        assert_eq!(message.as_deref(), Some("matchExpressions[0]: \"Foo\" is not a valid label selector operator"));
    }

    #[test]
    fn an_empty_field_selector_selects_everything() {
        for s in ["", " ", ",", ",,"] {
            let selector = field(s);
            assert!(selector.is_empty());
            assert!(selector.matches_object(&json!({})));
            assert!(selector.validate_for("Anything").is_ok());
        }
    }

    #[test]
    fn field_equality_and_inequality_match() {
        let obj = json!({"metadata":{"name":"web","namespace":"default"},"status":{"phase":"Running"}});
        for s in [
            "metadata.name=web",
            "metadata.name==web",
            "metadata.name!=db",
            "status.phase=Running,metadata.namespace=default",
        ] {
            assert!(field(s).matches_object(&obj), "{s}");
        }
        for s in ["metadata.name=db", "metadata.name!=web", "status.phase=Running,metadata.namespace!=default"] {
            assert!(!field(s).matches_object(&obj), "{s}");
        }
    }

    #[test]
    fn a_missing_field_compares_as_empty() {
        let cluster_scoped = json!({"metadata":{"name":"ns"}});
        assert!(field("metadata.namespace=").matches_object(&cluster_scoped));
        assert!(!field("metadata.namespace!=").matches_object(&cluster_scoped));
        assert!(!field("metadata.namespace=default").matches_object(&cluster_scoped));
        assert!(field("metadata.namespace!=default").matches_object(&cluster_scoped));
    }

    #[test]
    fn non_string_fields_compare_as_their_text() {
        let pod = json!({"spec":{"hostNetwork":true},"status":{"replicas":3}});
        assert!(field("spec.hostNetwork=true").matches_object(&pod));
        assert!(field("status.replicas=3").matches_object(&pod));
    }

    #[test]
    fn the_source_of_an_event_means_its_component() {
        let event = json!({"kind":"Event","source":{"component":"kustomize-controller"},"type":"Normal","reason":"Progressing","involvedObject":{"kind":"Kustomization","name":"apps"}});
        let selector =
            field("source=kustomize-controller,type=Normal,involvedObject.kind=Kustomization,involvedObject.name=apps");
        assert!(selector.validate_for("Event").is_ok());
        assert!(selector.matches_object(&event));
        assert!(!field("source=helm-controller").matches_object(&event));
    }

    #[test]
    fn escaped_values_are_unescaped() {
        let obj = json!({"metadata":{"name":"a,b=c\\d"}});
        let selector = field("metadata.name=a\\,b\\=c\\\\d");
        assert!(selector.matches_object(&obj));
        assert_eq!(selector.to_string(), "metadata.name=a\\,b\\=c\\\\d");
        assert_eq!(field(&selector.to_string()), selector);
    }

    #[test]
    fn malformed_field_selectors_are_errors() {
        for s in ["metadata.name", "=x", "metadata.name=a=b", "metadata.name=a\\x", "metadata.name=a\\", "a=b,c"] {
            match FieldSelector::parse(s) {
                Err(SelectorError::Field { selector, .. }) => assert_eq!(selector, s),
                other => panic!("{s:?} should be a field error, got {other:?}"),
            }
        }
        let message = FieldSelector::parse("foo").err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "\"foo\" is not a valid field selector: can't understand 'foo'; expected <field>=<value>, <field>==<value> or <field>!=<value>"
            )
        );
    }

    #[test]
    fn supported_fields_depend_on_the_kind() {
        assert!(field("metadata.name=a,metadata.namespace=b").validate_for("ConfigMap").is_ok());
        assert!(field("spec.nodeName=n,status.phase=Running").validate_for("Pod").is_ok());
        assert!(field("type=Opaque").validate_for("Secret").is_ok());
        assert!(
            field("involvedObject.uid=u,reportingComponent=c,involvedObject.fieldPath=f").validate_for("Event").is_ok()
        );
        let err = field("metadata.name=a,spec.nodeName=n").validate_for("Deployment").err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("field label not supported: spec.nodeName"));
        assert!(
            matches!(field("type=Opaque").validate_for("ConfigMap"), Err(SelectorError::FieldNotSupported(f)) if f == "type")
        );
        assert!(field("status.phase=Running").validate_for("Secret").is_err());
    }

    #[test]
    fn whitespace_around_field_terms_is_ignored() {
        let selector = field(" metadata.name = web , metadata.namespace=default ");
        assert!(selector.matches_object(&json!({"metadata":{"name":" web","namespace":"default"}})));
    }
}
