//! Minimal parsers to check the renderings' structure.

use std::collections::{BTreeMap, BTreeSet};

/// HTML/XML escaping as the renderers do it.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Parses RFC 4180 CSV (CRLF line ends, quoted fields with doubled quotes).
pub(crate) fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\n') => panic!("bare LF"),
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty() && row.is_empty(), "unterminated last row");
    rows
}

/// Node and edge declarations of a DOT text.
#[derive(Debug, Default)]
pub(crate) struct Dot {
    pub(crate) nodes: BTreeSet<String>,
    pub(crate) edges: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Str(String),
    Word(String),
    Punct(char),
    Arrow,
}

/// Tokenizes DOT, checks braces and brackets balance outside strings, and collects node
/// statements (`"id" [..]`) and edge statements (`"a" -> "b" [..]`) of the top-level graph.
pub(crate) fn dot_structure(text: &str) -> Dot {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next().expect("unterminated string") {
                        '\\' => {
                            let next = chars.next().expect("dangling backslash");
                            if next != '"' {
                                value.push('\\');
                            }
                            value.push(next);
                        }
                        '"' => break,
                        '\n' => panic!("raw newline in a string"),
                        c => value.push(c),
                    }
                }
                tokens.push(Token::Str(value));
            }
            '-' if chars.peek() == Some(&'>') => {
                chars.next();
                tokens.push(Token::Arrow);
            }
            c if c.is_whitespace() => {}
            c if c.is_alphanumeric() || c == '_' || c == '.' || c == '#' => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' || next == '.' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word));
            }
            c => tokens.push(Token::Punct(c)),
        }
    }
    assert_eq!(tokens[0], Token::Word("digraph".into()));
    let mut depth = 0i32;
    let mut brackets = 0i32;
    let mut dot = Dot::default();
    let mut statement: Vec<Token> = Vec::new();
    for token in tokens {
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                assert!(depth >= 0, "unbalanced braces");
            }
            Token::Punct('[') => brackets += 1,
            Token::Punct(']') => brackets -= 1,
            Token::Punct(';') if brackets == 0 => {
                match statement.as_slice() {
                    [Token::Str(id), ..] if statement.get(1) != Some(&Token::Arrow) => {
                        assert!(dot.nodes.insert(id.clone()), "node {id} declared twice");
                    }
                    [Token::Str(from), Token::Arrow, Token::Str(to), ..] => {
                        dot.edges.push((from.clone(), to.clone()));
                    }
                    _ => {}
                }
                statement.clear();
                continue;
            }
            _ => {}
        }
        if brackets == 0 && depth == 1 && !matches!(token, Token::Punct('{' | '}' | '[' | ']')) {
            statement.push(token);
        } else if brackets > 0 && statement.is_empty() {
            // attributes of `graph`, `node`, `edge`: nothing to collect
        }
    }
    assert_eq!(depth, 0, "unbalanced braces");
    assert_eq!(brackets, 0, "unbalanced brackets");
    dot
}

/// Checks that `text` is well-formed XML (balanced tags, quoted attributes, valid entities, no
/// raw `<` or `&` in text) and returns its elements in document order with their attributes,
/// unescaped.
pub(crate) fn xml_elements(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut elements = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    let mut roots = 0;
    while let Some(at) = rest.find('<') {
        check_text(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("<?") {
            rest = &after[after.find("?>").expect("unterminated declaration") + 2..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->").expect("unterminated comment") + 3..];
            continue;
        }
        let end = tag_end(rest);
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || ":-_.".contains(c)),
            "bad name {name}"
        );
        let attributes = parse_attributes(&tag[name_end..]);
        if stack.is_empty() {
            roots += 1;
        }
        elements.push((name.to_owned(), attributes));
        if !self_closing {
            stack.push(name.to_owned());
        }
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1, "one root element");
    elements
}

/// Index of the `>` closing the tag at the start of `text`, skipping quoted values.
fn tag_end(text: &str) -> usize {
    let mut quote = None;
    for (at, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (None, '>') => return at,
            (None, '<') => panic!("'<' inside a tag"),
            _ => {}
        }
    }
    panic!("unterminated tag")
}

fn parse_attributes(mut text: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return attributes;
        }
        let eq = text.find('=').expect("attribute without value");
        let name = text[..eq].trim().to_owned();
        let value_text = &text[eq + 1..];
        let quote = value_text.chars().next().expect("missing value");
        assert!(quote == '"' || quote == '\'', "unquoted attribute {name}");
        let close = value_text[1..].find(quote).expect("unterminated value") + 1;
        let value = &value_text[1..close];
        assert!(!value.contains('<'), "'<' in attribute {name}");
        check_text(value);
        assert!(attributes.insert(name.clone(), unescape(value)).is_none(), "duplicate {name}");
        text = &value_text[close + 1..];
    }
}

fn check_text(text: &str) {
    assert!(!text.contains('>') || !text.contains("]]>"));
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        rest = &rest[at + 1..];
        let end = rest.find(';').expect("'&' without ';'");
        let entity = &rest[..end];
        let valid = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || entity.strip_prefix('#').is_some_and(|digits| digits.parse::<u32>().is_ok());
        assert!(valid, "bad entity &{entity};");
    }
    for c in text.chars() {
        assert!(!c.is_control() || matches!(c, '\t' | '\n' | '\r'), "control character in XML");
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
