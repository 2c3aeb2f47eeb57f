//! Reading a configuration from TOML or JSON, reporting every error at once.
//!
//! # Two stages
//!
//! 1. **Syntax.** The text is parsed into a value tree (`toml::Value` or
//!    `serde_json::Value`). A syntax error stops the parser, so it is
//!    reported alone, with its line.
//! 2. **Types and values.** The typed model is deserialized from the tree,
//!    not from the text, *piece by piece*: the top level (`sentinel`,
//!    `policy`, `budgets`, `ladder`, unknown top-level keys), each
//!    `[[service]]` table without its providers, and each
//!    `[[service.provider]]` table on its own. Within a piece, the first
//!    error (with its path, from `serde_path_to_error`) is recorded, the
//!    offending key is cut from the tree, and the piece is read again —
//!    until it reads, or until what is missing is something a cut took
//!    away (`endpoint = 5` cut makes "missing field `endpoint`", which is
//!    not reported again: the piece is given up instead).
//!
//! # Why this design
//!
//! Serde stops at the first error of a derive, and a `Deserialize` impl
//! cannot skip a bad field and go on. Re-reading after cutting the bad key
//! reuses the model's own derives, so every message, default, alias and
//! `deny_unknown_fields` stays exactly what the model says — nothing is
//! validated twice in two ways that could drift apart. Cutting a key makes
//! serde use its default, which lets the rest of the table be checked; a
//! required key that was cut gives the piece up without a second,
//! consequential error. Pieces make the cuts local: a broken provider
//! hides nothing of its neighbours, and array indices never shift, because
//! a cut only ever removes a key from a table, never an element from an
//! array. The cost, a re-read per error, is paid only by invalid configs.
//!
//! Then, when the top level read, [`Config::validate`] runs on the config
//! assembled from the pieces that read (a cut key holding its default, a
//! given-up service or provider left out) — so relations and ranges are
//! reported in the same run — except for its errors about a table a key
//! was cut from: anything inside that table, or about a table above it (a
//! service's provider count when one of its providers was given up). Those
//! may be artefacts of the default that replaced the value, or of what a
//! misspelt key meant to set, and an invented error is worse than one
//! reported in the next run.
//!
//! # Lines
//!
//! TOML is read into a tree that remembers where each value starts (the
//! protocol of [`toml::Spanned`]), so every error names its line (that of
//! the nearest table whose position toml knows, for a missing key). `serde_json` keeps
//! no positions in its tree; a JSON error names its line when it is the
//! one the streaming parser meets first.
//!
//! # Resolved defaults
//!
//! A probe block without `timeout` gets the default (5 s) shortened to its
//! service's `probe_interval` when that is shorter: a default never makes
//! a config invalid (an explicit timeout over the interval still is).

use super::{Config, ConfigError, Errors, ProviderConfig, ServiceConfig};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Most errors collected from one document: past it, a file is not a
/// config with mistakes but something else, and more lines help no one.
const MAX_ERRORS: usize = 200;

impl Config {
    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Config, Errors> {
        let root = toml::from_str::<Shape>(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            Errors(vec![document_error(line, e.message())])
        })?;
        let locate = |path: &[Seg]| root.locate(path).map(|at| line_of(text, at));
        load(root.to_value(), &locate)
    }

    /// Parses and validates a JSON configuration.
    pub fn from_json(text: &str) -> Result<Config, Errors> {
        let root = serde_json::from_str::<StrictJson>(text).map_err(|e| {
            let line = (e.line() > 0).then_some(e.line());
            Errors(vec![document_error(line, &json_message(&e))])
        })?;
        load(root.0, &|_| None).map_err(|mut errs| {
            // The streaming parser knows the line of the first type error.
            let mut de = serde_json::Deserializer::from_str(text);
            if let Err(e) = serde_path_to_error::deserialize::<_, Config>(&mut de) {
                let key = key_of(e.path().iter().map(Seg::from));
                let line = e.inner().line();
                if let Some(c) = errs.0.iter_mut().find(|c| c.key == key && line > 0) {
                    c.message = format!("{} (line {line})", c.message);
                }
            }
            errs
        })
    }

    /// Parses by file name: `.json` as JSON, anything else as TOML.
    pub fn from_named(name: &str, text: &str) -> Result<Config, Errors> {
        if name.ends_with(".json") {
            Config::from_json(text)
        } else {
            Config::from_toml(text)
        }
    }
}

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// A key of a table.
    Key(String),
    /// An element of an array.
    Index(usize),
    /// An enum variant.
    Variant(String),
    /// A map key that could not be read.
    Unknown,
}

impl From<&serde_path_to_error::Segment> for Seg {
    fn from(s: &serde_path_to_error::Segment) -> Seg {
        use serde_path_to_error::Segment as S;
        match s {
            S::Seq { index } => Seg::Index(*index),
            S::Map { key } => Seg::Key(key.clone()),
            S::Enum { variant } => Seg::Variant(variant.clone()),
            S::Unknown => Seg::Unknown,
        }
    }
}

/// `a.b[0].c`, the way `serde_path_to_error` writes a path, with a map key
/// that could not be read (`?`) dropped: the message names it.
fn key_of(path: impl IntoIterator<Item = Seg>) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Seg::Key(k) | Seg::Variant(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&k);
            }
            Seg::Unknown => {}
        }
    }
    out
}

/// What the loader needs of a value tree.
trait Tree: Clone + Sized {
    /// Deserializes `T`, or says where and why it could not.
    fn read<T: DeserializeOwned>(self) -> Result<T, (Vec<Seg>, String)>;
    /// The child at `seg`, when there is one.
    fn child_mut(&mut self, seg: &Seg) -> Option<&mut Self>;
    /// Removes `key` from this table.
    fn remove(&mut self, key: &str) -> Option<Self>;
    /// The elements, when this is an array.
    fn elements(self) -> Result<Vec<Self>, Self>;
    /// Whether this is a table holding `key`.
    fn has(&self, key: &str) -> bool;
    /// The child at `key` of this table.
    fn child(&self, key: &str) -> Option<&Self>;
    /// The string at `key` of this table.
    fn str_at(&self, key: &str) -> Option<&str>;
    /// Whether this is a table.
    fn is_table(&self) -> bool;
}

impl Tree for toml::Value {
    fn read<T: DeserializeOwned>(self) -> Result<T, (Vec<Seg>, String)> {
        serde_path_to_error::deserialize(self).map_err(|e| {
            let path = e.path().iter().map(Seg::from).collect();
            (path, e.into_inner().message().to_string())
        })
    }
    fn child_mut(&mut self, seg: &Seg) -> Option<&mut Self> {
        match (self, seg) {
            (toml::Value::Table(t), Seg::Key(k)) => t.get_mut(k),
            (toml::Value::Array(a), Seg::Index(i)) => a.get_mut(*i),
            _ => None,
        }
    }
    fn remove(&mut self, key: &str) -> Option<Self> {
        match self {
            toml::Value::Table(t) => t.remove(key),
            _ => None,
        }
    }
    fn elements(self) -> Result<Vec<Self>, Self> {
        match self {
            toml::Value::Array(a) => Ok(a),
            other => Err(other),
        }
    }
    fn has(&self, key: &str) -> bool {
        matches!(self, toml::Value::Table(t) if t.contains_key(key))
    }
    fn child(&self, key: &str) -> Option<&Self> {
        self.as_table().and_then(|t| t.get(key))
    }
    fn str_at(&self, key: &str) -> Option<&str> {
        self.child(key).and_then(toml::Value::as_str)
    }
    fn is_table(&self) -> bool {
        matches!(self, toml::Value::Table(_))
    }
}

impl Tree for serde_json::Value {
    fn read<T: DeserializeOwned>(self) -> Result<T, (Vec<Seg>, String)> {
        serde_path_to_error::deserialize(self).map_err(|e| {
            let path = e.path().iter().map(Seg::from).collect();
            (path, json_message(e.inner()))
        })
    }
    fn child_mut(&mut self, seg: &Seg) -> Option<&mut Self> {
        match (self, seg) {
            (serde_json::Value::Object(t), Seg::Key(k)) => t.get_mut(k),
            (serde_json::Value::Array(a), Seg::Index(i)) => a.get_mut(*i),
            _ => None,
        }
    }
    fn remove(&mut self, key: &str) -> Option<Self> {
        match self {
            serde_json::Value::Object(t) => t.remove(key),
            _ => None,
        }
    }
    fn elements(self) -> Result<Vec<Self>, Self> {
        match self {
            serde_json::Value::Array(a) => Ok(a),
            other => Err(other),
        }
    }
    fn has(&self, key: &str) -> bool {
        matches!(self, serde_json::Value::Object(t) if t.contains_key(key))
    }
    fn child(&self, key: &str) -> Option<&Self> {
        self.as_object().and_then(|t| t.get(key))
    }
    fn str_at(&self, key: &str) -> Option<&str> {
        self.child(key).and_then(serde_json::Value::as_str)
    }
    fn is_table(&self) -> bool {
        matches!(self, serde_json::Value::Object(_))
    }
}

/// serde_json appends " at line L column C"; the line is printed once,
/// by the loader.
fn json_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rsplit_once(" at line ") {
        Some((m, _)) if e.line() > 0 => m.to_string(),
        _ => msg,
    }
}

/// Where the errors of one document go.
struct Collector<'a> {
    /// Every error, in the order found.
    errors: Vec<ConfigError>,
    /// Keys (in `validate`'s spelling) near which a value was cut, so
    /// that validation errors there may be artefacts of a default.
    tainted: Vec<String>,
    /// The line of a path, when the format knows it.
    locate: &'a dyn Fn(&[Seg]) -> Option<usize>,
}

impl Collector<'_> {
    fn push(&mut self, path: &[Seg], message: &str) {
        if self.errors.len() >= MAX_ERRORS {
            return;
        }
        let key = key_of(path.iter().cloned());
        let line = (self.locate)(path);
        let key = if key.is_empty() {
            "(document)".to_string()
        } else {
            key
        };
        let message = match line {
            Some(l) => format!("{} (line {l})", message.trim()),
            None => message.trim().to_string(),
        };
        self.errors.push(ConfigError::new(&key, None, &message));
    }

    fn full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }
}

/// Reads one piece: `T` from `node`, found at `at` in the document and
/// named `vkey` by `validate`. Every error is recorded; the offending key
/// is cut and the piece read again, until it reads (`Some`, cut keys at
/// their defaults, with the tree as cut) or cannot (`None`).
fn piece<N: Tree, T: DeserializeOwned>(
    mut node: N,
    at: &[Seg],
    vkey: &str,
    c: &mut Collector<'_>,
) -> Option<(T, N)> {
    let mut cut: Vec<Vec<Seg>> = Vec::new();
    loop {
        let (path, message) = match node.clone().read::<T>() {
            Ok(v) => return Some((v, node)),
            Err(e) => e,
        };
        let consequence = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
            .is_some_and(|field| {
                let mut p = path.clone();
                p.push(Seg::Key(field.to_string()));
                cut.contains(&p)
            });
        if !consequence {
            let full: Vec<Seg> = at.iter().chain(&path).cloned().collect();
            c.push(&full, &message);
        }
        // Cut the deepest key of the path from its table.
        let pos = path.iter().rposition(|s| matches!(s, Seg::Key(_)))?;
        // Validation near the cut may now see a default (or miss what a
        // misspelt key meant to set): the table that held the key is
        // tainted — the key itself, at the top level.
        let table = if pos == 0 && vkey.is_empty() {
            &path[..1]
        } else {
            &path[..pos]
        };
        c.tainted.push(vjoin(vkey, &key_of(table.iter().cloned())));
        if c.full() || !cut_at(&mut node, &path[..=pos]) {
            return None;
        }
        cut.push(path[..=pos].to_vec());
    }
}

/// Removes the key at the end of `path` from its table.
fn cut_at<N: Tree>(node: &mut N, path: &[Seg]) -> bool {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return false;
    };
    let mut at = node;
    for seg in parents {
        match at.child_mut(seg) {
            Some(next) => at = next,
            None => return false,
        }
    }
    at.remove(last).is_some()
}

/// Joins a `validate` key and a relative path (`a[0]` stays `a[0]`).
fn vjoin(parent: &str, rel: &str) -> String {
    match (parent.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (false, true) => parent.to_string(),
        (false, false) if rel.starts_with('[') => format!("{parent}{rel}"),
        (false, false) => format!("{parent}.{rel}"),
    }
}

/// Reads a whole document into a config, collecting every error.
fn load<N: Tree>(root: N, locate: &dyn Fn(&[Seg]) -> Option<usize>) -> Result<Config, Errors> {
    let mut root = root;
    let mut c = Collector {
        errors: Vec::new(),
        tainted: Vec::new(),
        locate,
    };
    // The services are read on their own, one piece each; everything else
    // is the top-level piece.
    let services = if root.is_table() {
        root.remove("service")
    } else {
        None
    };
    let top = piece::<N, Config>(root, &[], "", &mut c).map(|(cfg, _)| cfg);
    let mut all = Vec::new();
    if let Some(list) = services {
        let at = [Seg::Key("service".into())];
        match list.elements() {
            // Not an array: let serde say what it is.
            Err(other) => drop(piece::<N, Vec<ServiceConfig>>(
                other, &at, "service", &mut c,
            )),
            Ok(elements) => {
                for (i, svc) in elements.into_iter().enumerate() {
                    if c.full() {
                        break;
                    }
                    all.extend(service(svc, i, &mut c));
                }
            }
        }
    }
    match top {
        Some(mut cfg) => {
            cfg.services = all;
            finish(cfg, c)
        }
        None => Err(Errors(c.errors)),
    }
}

/// Reads the `i`th service and its providers, each provider a piece of
/// its own; `None` when the service itself cannot be read.
fn service<N: Tree>(mut node: N, i: usize, c: &mut Collector<'_>) -> Option<ServiceConfig> {
    let at = [Seg::Key("service".into()), Seg::Index(i)];
    let providers = if node.is_table() {
        node.remove("provider")
    } else {
        None
    };
    // `validate` names a service by its id (a piece without one is given
    // up, so the name matters only when there is one).
    let vkey = format!("service.{}", node.str_at("id").unwrap_or_default());
    let read = piece::<N, ServiceConfig>(node, &at, &vkey, c);
    let mut list = Vec::new();
    if let Some(ps) = providers {
        let at: Vec<Seg> = at
            .iter()
            .cloned()
            .chain([Seg::Key("provider".into())])
            .collect();
        let pkey = format!("{vkey}.provider");
        match ps.elements() {
            Err(other) => {
                c.tainted.push(pkey.clone());
                drop(piece::<N, Vec<ProviderConfig>>(other, &at, &pkey, c));
            }
            Ok(elements) => {
                for (j, p) in elements.into_iter().enumerate() {
                    if c.full() {
                        break;
                    }
                    let mut at = at.clone();
                    at.push(Seg::Index(j));
                    let vkey = format!("{pkey}.{}", p.str_at("id").unwrap_or_default());
                    match piece::<N, ProviderConfig>(p, &at, &vkey, c) {
                        Some((p, tree)) => list.push((p, lacks_timeout(&tree))),
                        // Without it, the service's provider count is off.
                        None => c.tainted.push(format!("{pkey}[{j}]")),
                    }
                }
            }
        }
    }
    let (mut svc, tree) = read?;
    let default = super::resolve::default_timeout(svc.probe_interval);
    if lacks_timeout(&tree) {
        if let Some(probe) = svc.probe.as_mut() {
            probe.timeout = default;
        }
    }
    for (mut p, lacks) in list {
        if lacks {
            if let Some(probe) = p.probe.as_mut() {
                probe.timeout = default;
            }
        }
        svc.providers.push(p);
    }
    Some(svc)
}

/// Whether this table has a `probe` table without a `timeout`.
fn lacks_timeout<N: Tree>(node: &N) -> bool {
    node.child("probe")
        .is_some_and(|p| p.is_table() && !p.has("timeout"))
}

/// Validates the assembled config; with earlier errors, keeps the
/// validation errors that cannot be artefacts of a cut.
fn finish(cfg: Config, c: Collector<'_>) -> Result<Config, Errors> {
    let Collector {
        mut errors,
        tainted,
        ..
    } = c;
    match cfg.validate() {
        Ok(()) if errors.is_empty() => return Ok(cfg),
        Ok(()) => {}
        Err(v) => {
            let near = |k: &str| tainted.iter().any(|t| related(k, t));
            errors.extend(v.0.into_iter().filter(|e| !near(&e.key)));
        }
    }
    errors.truncate(MAX_ERRORS);
    Err(Errors(errors))
}

/// Whether `a` and `b` are the same key or one is inside the other.
fn related(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| {
        x.strip_prefix(y)
            .is_some_and(|r| r.is_empty() || r.starts_with(['.', '[']))
    };
    inside(a, b) || inside(b, a)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

/// An error of the document as a whole (its syntax).
fn document_error(line: Option<usize>, message: &str) -> ConfigError {
    let message = match line {
        Some(l) => format!("{} (line {l})", message.trim()),
        None => message.trim().to_string(),
    };
    ConfigError::new("(document)", None, &message)
}

/// The names by which `toml` hands a value's position to a
/// `Deserialize` impl (the protocol of `toml::Spanned`, spelled out here
/// because a table that toml made implicitly — `policy` of
/// `[policy.weights]` — has no position, and `toml::Spanned` refuses it
/// where this reader falls back to its parent's line). Should a future
/// `toml` spell them otherwise, values simply arrive without positions
/// and errors name the nearest line known, or none.
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const SPANNED_FIELDS: &[&str] = &[
    "$__serde_spanned_private_start",
    "$__serde_spanned_private_end",
    "$__serde_spanned_private_value",
];
/// How `toml` hands a datetime to `deserialize_any`.
const DATETIME: &str = "$__toml_private_datetime";

/// A TOML value and where it starts in the text, when toml knows.
#[derive(Debug)]
struct Located {
    at: Option<usize>,
    shape: Shape,
}

/// A TOML value whose children know where they start.
#[derive(Debug)]
enum Shape {
    Leaf(toml::Value),
    Table(BTreeMap<String, Located>),
    Array(Vec<Located>),
}

impl Shape {
    /// The start of the deepest node on `path` whose position is known.
    fn locate(&self, path: &[Seg]) -> Option<usize> {
        let mut best = None;
        let mut at = self;
        for seg in path {
            let next = match (at, seg) {
                (Shape::Table(t), Seg::Key(k)) => t.get(k),
                (Shape::Array(a), Seg::Index(i)) => a.get(*i),
                _ => None,
            };
            let Some(n) = next else { break };
            best = n.at.or(best);
            at = &n.shape;
        }
        best
    }

    fn to_value(&self) -> toml::Value {
        match self {
            Shape::Leaf(v) => v.clone(),
            Shape::Table(t) => toml::Value::Table(
                t.iter()
                    .map(|(k, v)| (k.clone(), v.shape.to_value()))
                    .collect(),
            ),
            Shape::Array(a) => toml::Value::Array(a.iter().map(|v| v.shape.to_value()).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, LocatedVisitor)
    }
}

struct ShapeVisitor;

impl ShapeVisitor {
    /// The rest of a table whose first key was `first`.
    fn table<'de, A: serde::de::MapAccess<'de>>(
        first: String,
        mut map: A,
    ) -> Result<Shape, A::Error> {
        use serde::de::Error as _;
        if first == DATETIME {
            let s: String = map.next_value()?;
            let dt = s
                .parse::<toml::value::Datetime>()
                .map_err(A::Error::custom)?;
            return Ok(Shape::Leaf(toml::Value::Datetime(dt)));
        }
        let mut t = BTreeMap::new();
        t.insert(first, map.next_value::<Located>()?);
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value::<Located>()?;
            t.insert(k, v);
        }
        Ok(Shape::Table(t))
    }
}

impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
    type Value = Shape;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Shape, E> {
        Ok(Shape::Leaf(toml::Value::Boolean(v)))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Shape, E> {
        Ok(Shape::Leaf(toml::Value::Integer(v)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Shape, E> {
        i64::try_from(v)
            .map(|v| Shape::Leaf(toml::Value::Integer(v)))
            .map_err(|_| E::custom(format!("integer `{v}` is out of range")))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Shape, E> {
        Ok(Shape::Leaf(toml::Value::Float(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Shape, E> {
        Ok(Shape::Leaf(toml::Value::String(v.to_string())))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Shape, E> {
        Ok(Shape::Leaf(toml::Value::String(v)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let mut a = Vec::new();
        while let Some(v) = seq.next_element::<Located>()? {
            a.push(v);
        }
        Ok(Shape::Array(a))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        match map.next_key::<String>()? {
            Some(first) => ShapeVisitor::table(first, map),
            None => Ok(Shape::Table(BTreeMap::new())),
        }
    }
}

struct LocatedVisitor;

fn unlocated(shape: Shape) -> Located {
    Located { at: None, shape }
}

impl<'de> serde::de::Visitor<'de> for LocatedVisitor {
    type Value = Located;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Located, E> {
        ShapeVisitor.visit_bool(v).map(unlocated)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Located, E> {
        ShapeVisitor.visit_i64(v).map(unlocated)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Located, E> {
        ShapeVisitor.visit_u64(v).map(unlocated)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Located, E> {
        ShapeVisitor.visit_f64(v).map(unlocated)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Located, E> {
        ShapeVisitor.visit_str(v).map(unlocated)
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Located, E> {
        ShapeVisitor.visit_string(v).map(unlocated)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Located, A::Error> {
        ShapeVisitor.visit_seq(seq).map(unlocated)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Located, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(unlocated(Shape::Table(BTreeMap::new())));
        };
        if first != SPANNED_FIELDS[0] {
            // A table (or datetime) toml gave no position.
            return ShapeVisitor::table(first, map).map(unlocated);
        }
        let start: usize = map.next_value()?;
        let _ = map.next_key::<String>()?;
        let _end: usize = map.next_value()?;
        let _ = map.next_key::<String>()?;
        let shape: Shape = map.next_value()?;
        Ok(Located {
            at: Some(start),
            shape,
        })
    }
}

/// A JSON document as `serde_json::Value`, refusing a key written twice
/// in one object (the typed model would; a `Value` keeps the last).
struct StrictJson(serde_json::Value);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor).map(StrictJson)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<serde_json::Value, E> {
        serde_json::Number::from_f64(v)
            .map(serde_json::Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::String(v.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::String(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<serde_json::Value, A::Error> {
        let mut a = Vec::new();
        while let Some(StrictJson(v)) = seq.next_element()? {
            a.push(v);
        }
        Ok(serde_json::Value::Array(a))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<serde_json::Value, A::Error> {
        use serde::de::Error as _;
        let mut t = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let StrictJson(v) = map.next_value()?;
            if t.contains_key(&k) {
                return Err(A::Error::custom(format!("duplicate key `{k}`")));
            }
            t.insert(k, v);
        }
        Ok(serde_json::Value::Object(t))
    }
}
