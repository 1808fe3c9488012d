//! The filter expressions `ListOrders` evaluates: the part of AIP-160 that the proto's example
//! uses, `customer_id = "c_42" AND status = SHIPPED`. Clauses compare one field for equality
//! and are joined by `AND`; a value is a double-quoted string (`\"` and `\\` escape) or a bare
//! word. Anything else is `INVALID_ARGUMENT` naming the position, never a silent "match all".

use rust_svc_runtime::Status;

use crate::errors::invalid;
use crate::orders::v1::{Order, OrderStatus};

/// A parsed filter: every clause must hold.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    Customer(String),
    /// `ORDER_STATUS_UNSPECIFIED` means any status, as the enum documents.
    Status(OrderStatus),
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
}

impl Filter {
    /// Parses `text`; the empty filter matches every order.
    pub(crate) fn parse(text: &str) -> Result<Self, Status> {
        let mut tokens = tokenize(text)?.into_iter();
        let mut clauses = Vec::new();
        loop {
            let (at, field) = match tokens.next() {
                Some((at, Token::Word(field))) => (at, field),
                Some((at, _)) => return Err(bad(at, "expected a field name")),
                None if clauses.is_empty() => break,
                None => return Err(bad(text.len(), "expected a clause after `AND`")),
            };
            match tokens.next() {
                Some((_, Token::Equals)) => {}
                Some((at, _)) => return Err(bad(at, "expected `=`")),
                None => return Err(bad(text.len(), "expected `=`")),
            }
            let (value_at, value) = match tokens.next() {
                Some((at, Token::Word(value) | Token::Quoted(value))) => (at, value),
                Some((at, Token::Equals)) => return Err(bad(at, "expected a value")),
                None => return Err(bad(text.len(), "expected a value")),
            };
            clauses.push(clause(at, &field, value_at, value)?);
            match tokens.next() {
                None => break,
                Some((_, Token::Word(word))) if word == "AND" => {}
                Some((at, _)) => return Err(bad(at, "expected `AND` between clauses")),
            }
        }
        Ok(Self { clauses })
    }

    /// Whether `order` passes every clause.
    pub(crate) fn matches(&self, order: &Order) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Customer(customer_id) => order.customer_id == *customer_id,
            Clause::Status(OrderStatus::Unspecified) => true,
            Clause::Status(status) => order.status() == *status,
        })
    }

    /// The filter with `status` required too (the deprecated `status_filter` field).
    pub(crate) fn and_status(mut self, status: OrderStatus) -> Self {
        self.clauses.push(Clause::Status(status));
        self
    }
}

fn clause(at: usize, field: &str, value_at: usize, value: String) -> Result<Clause, Status> {
    match field {
        "customer_id" | "customerId" => Ok(Clause::Customer(value)),
        "status" => {
            let status = OrderStatus::from_str_name(&value)
                .or_else(|| OrderStatus::from_str_name(&format!("ORDER_STATUS_{value}")))
                .ok_or_else(|| {
                    bad(
                        value_at,
                        format!("`{value}` is not an order status, e.g. SHIPPED"),
                    )
                })?;
            Ok(Clause::Status(status))
        }
        _ => Err(bad(
            at,
            format!("cannot filter on `{field}`; use customer_id or status"),
        )),
    }
}

/// The tokens of `text` with their byte offsets.
fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, Status> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '=' {
            chars.next();
            tokens.push((at, Token::Equals));
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                        Some((at, _)) => return Err(bad(at, "only \\\" and \\\\ are escapes")),
                        None => return Err(bad(text.len(), "unterminated string")),
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err(bad(text.len(), "unterminated string")),
                }
            }
            tokens.push((at, Token::Quoted(value)));
        } else {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '=' || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push((at, Token::Word(word)));
        }
    }
    Ok(tokens)
}

fn bad(at: usize, problem: impl std::fmt::Display) -> Status {
    invalid("filter", format!("at byte {at}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(customer_id: &str, status: OrderStatus) -> Order {
        Order {
            customer_id: customer_id.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    #[test]
    fn clauses_select_by_customer_and_status() {
        let shipped = order("c_42", OrderStatus::Shipped);
        let pending = order("c_42", OrderStatus::Pending);
        let other = order("c_7", OrderStatus::Shipped);
        let cases = [
            ("", [true, true, true]),
            (r#"customer_id = "c_42""#, [true, true, false]),
            ("customerId=c_42", [true, true, false]),
            (
                r#"customer_id = "c_42" AND status = SHIPPED"#,
                [true, false, false],
            ),
            ("status = ORDER_STATUS_PENDING", [false, true, false]),
            ("status = UNSPECIFIED", [true, true, true]),
            (r#"customer_id = "c \"7\"""#, [false, false, false]),
        ];
        for (text, expected) in cases {
            let filter = Filter::parse(text).unwrap();
            let matched = [&shipped, &pending, &other].map(|order| filter.matches(order));
            assert_eq!(matched, expected, "{text}");
        }
        let deprecated = Filter::default().and_status(OrderStatus::Pending);
        assert!(deprecated.matches(&pending) && !deprecated.matches(&shipped));
    }

    #[test]
    fn bad_filters_say_where() {
        let cases = [
            ("status", "filter: at byte 6: expected `=`"),
            ("status =", "filter: at byte 8: expected a value"),
            (
                "status = LOST",
                "filter: at byte 9: `LOST` is not an order status, e.g. SHIPPED",
            ),
            ("total > 5", "filter: at byte 6: expected `=`"),
            (
                "total = 5",
                "filter: at byte 0: cannot filter on `total`; use customer_id or status",
            ),
            (
                "status = SHIPPED OR status = PENDING",
                "filter: at byte 17: expected `AND` between clauses",
            ),
            (
                "status = SHIPPED AND",
                "filter: at byte 20: expected a clause after `AND`",
            ),
            (
                r#"customer_id = "c"#,
                "filter: at byte 16: unterminated string",
            ),
            (
                r#"customer_id = "\n""#,
                "filter: at byte 16: only \\\" and \\\\ are escapes",
            ),
            ("= x", "filter: at byte 0: expected a field name"),
            (
                r#"status = SHIPPED AND "x" = 1"#,
                "filter: at byte 21: expected a field name",
            ),
        ];
        for (text, message) in cases {
            let status = Filter::parse(text).unwrap_err();
            assert_eq!(status.message(), message, "{text}");
        }
    }
}
