//! The one error type of the generator. Problems in the user's protos or parameters carry the
//! place they come from, so a user can go straight to it.

use std::fmt;

/// Where in a `.proto` file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as the compiler knows it (relative to its include path).
    pub file: String,
    /// 1-based line, when the descriptor carries source info.
    pub line: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// A problem that stops generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    location: Option<Location>,
    element: Option<String>,
    message: String,
}

impl Error {
    /// An error with no place in a proto file (bad parameters, unreadable input).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            location: None,
            element: None,
            message: message.into(),
        }
    }

    /// An error about one element (`rpc inventory.v1.InventoryService.CheckStock`) of a proto file.
    pub fn at(location: Location, element: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: Some(location),
            element: Some(element.into()),
            message: message.into(),
        }
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the problem is, if it is in a proto file.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        if let Some(element) = &self.element {
            write!(f, "{element}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
